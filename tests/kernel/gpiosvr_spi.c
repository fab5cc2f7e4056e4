// SPDX-License-Identifier: GPL-2.0
/*
 * An SPI bus for the QEMU guest of tools/kernel_tests.py, whose PC has none: the
 * kernel's spi-gpio controller (bus 0) on four lines of the gpio-sim chip labelled
 * "gpiosvr-spi" (made by tests/kernel/init before this is loaded), and on its chip
 * select 0 a device that spidev drives, so /dev/spidev0.0 is a real spidev whose
 * transfers clock the gpio-sim lines:
 *
 *   line 0 SCK, line 1 MOSI, line 2 MISO (reads the line's pull), line 3 CS0
 *
 * No device tree: the lines come from a gpiod lookup table, the device from
 * spi_new_device() with a name spidev's id table knows (6.1 has no "spidev" id).
 */
#include <linux/gpio/machine.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/spi/spi.h>
#include <linux/spi/spi_gpio.h>

#define CHIP "gpiosvr-spi"	/* the gpio-sim bank's label (tests/kernel/init) */

static struct gpiod_lookup_table lookup = {
	.dev_id = "spi_gpio.0",	/* the platform device below: spi_gpio, id 0 */
	.table = {
		GPIO_LOOKUP(CHIP, 0, "sck", GPIO_ACTIVE_HIGH),
		GPIO_LOOKUP(CHIP, 1, "mosi", GPIO_ACTIVE_HIGH),
		GPIO_LOOKUP(CHIP, 2, "miso", GPIO_ACTIVE_HIGH),
		GPIO_LOOKUP_IDX(CHIP, 3, "cs", 0, GPIO_ACTIVE_HIGH),
		{ },
	},
};

static const struct spi_gpio_platform_data pdata = { .num_chipselect = 1 };

static struct platform_device *pdev;
static struct spi_device *spi;

static int __init gpiosvr_spi_init(void)
{
	struct spi_board_info info = {
		.modalias = "dh2228fv",	/* in spidev_spi_ids */
		.max_speed_hz = 1000000,
		.bus_num = 0,
		.chip_select = 0,
		.mode = SPI_MODE_0,
	};
	struct device *dev;

	gpiod_add_lookup_table(&lookup);
	/* spi-gpio is built in: it probes here, its bus number is the id */
	pdev = platform_device_register_data(NULL, "spi_gpio", 0, &pdata, sizeof(pdata));
	if (IS_ERR(pdev)) {
		gpiod_remove_lookup_table(&lookup);
		return PTR_ERR(pdev);
	}
	dev = device_find_child_by_name(&pdev->dev, "spi0");
	if (!dev) {
		pr_err("gpiosvr_spi: spi_gpio.0 has no controller (is the gpio-sim chip "
		       CHIP " live?)\n");
		goto fail;
	}
	spi = spi_new_device(container_of(dev, struct spi_controller, dev), &info);
	put_device(dev);
	if (!spi) {
		pr_err("gpiosvr_spi: no SPI device on spi0\n");
		goto fail;
	}
	return 0;
fail:
	platform_device_unregister(pdev);
	gpiod_remove_lookup_table(&lookup);
	return -ENODEV;
}

static void __exit gpiosvr_spi_exit(void)
{
	spi_unregister_device(spi);
	platform_device_unregister(pdev);
	gpiod_remove_lookup_table(&lookup);
}

module_init(gpiosvr_spi_init);
module_exit(gpiosvr_spi_exit);
MODULE_DESCRIPTION("spi-gpio on a gpio-sim chip with spidev, for gpiosvr's guest tests");
MODULE_LICENSE("GPL");
