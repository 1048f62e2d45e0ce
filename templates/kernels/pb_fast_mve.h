/* Fast int8 kernels, Helium (MVE) tier: the same operators and parameters as pb_fast.h,
 * in layouts for the Cortex-M55's vector instructions (protobrain/ops/fast_mve.py). */
#ifndef PB_FAST_MVE_H
#define PB_FAST_MVE_H

#include "pb_fast.h"

void pb_fast_mve_mm_s8(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_mve_dw_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch);

#endif /* PB_FAST_MVE_H */
