/*
 * COMPILE CHECK ONLY — not the Ethos-U driver. tests/test_firmware_cross.py compiles the runtime's own
 * sources for Cortex-M with -c, where the real ethos-u-core-driver is not present (the documented cross
 * build fetches it). This header declares exactly the driver API those sources use, with the signatures of
 * ethos-u-core-driver's include/ethosu_driver.h (driver 0.16 and later, as used by ethos-u 26.05 and
 * ExecuTorch 1.5.1). The real build puts the real driver's include directory first and never sees this.
 */
#ifndef ETHOSU_DRIVER_H
#define ETHOSU_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ethosu_driver {
    void *dev; /* opaque here; the real struct has more members */
};

void ethosu_irq_handler(struct ethosu_driver *drv);
int ethosu_init(struct ethosu_driver *drv, const void *base_address, const void *fast_memory,
                const size_t fast_memory_size, uint32_t secure_enable, uint32_t privilege_enable);
void ethosu_inference_begin(struct ethosu_driver *drv, void *user_arg);
void ethosu_inference_end(struct ethosu_driver *drv, void *user_arg);

#ifdef __cplusplus
}
#endif

#endif /* ETHOSU_DRIVER_H */
