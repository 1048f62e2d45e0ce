/* Fast 16x8 kernels, DSP tier (Cortex-M4/M7/M33; plain C elsewhere): CONV_2D and
 * FULLY_CONNECTED with int16 activations and int8 weights as one blocked matrix multiply
 * over im2col rows (pb_depthwise_conv16.h: DEPTHWISE_CONV_2D). Parameters, requantization
 * forms and the im2col row: pb_fast16.h. */
#ifndef PB_DSP_CONV16_H
#define PB_DSP_CONV16_H

#include "pb_fast16.h"

/* The matrix multiply's forms; the generated code calls the one a layer's constants select
 * (wide16.mm16_form), so a firmware links only those. scratch: the two rows interleaved, and
 * unless direct the two im2col rows: depth_pad int16 each (pb_fast_mm_s16_scratch_bytes).
 * Clamp forms (PB_W16_HI and MULR): _s16 int16's whole range, _relu [0, 32767]. */
#define PB_MM16_FORMS(X)                                                                                             \
    X(pb_fast_mm16_wide_mulr, PB_W16_MULR, 1, PB_W16_CLAMP_ANY)                                                      \
    X(pb_fast_mm16_wide_mulr_s16, PB_W16_MULR, 1, PB_W16_CLAMP_S16)                                                  \
    X(pb_fast_mm16_wide_mulr_relu, PB_W16_MULR, 1, PB_W16_CLAMP_RELU)                                                \
    X(pb_fast_mm16_int8_mulr, PB_W16_MULR, 0, PB_W16_CLAMP_ANY)                                                      \
    X(pb_fast_mm16_int8_mulr_s16, PB_W16_MULR, 0, PB_W16_CLAMP_S16)                                                  \
    X(pb_fast_mm16_int8_mulr_relu, PB_W16_MULR, 0, PB_W16_CLAMP_RELU)                                                \
    X(pb_fast_mm16_wide_hi, PB_W16_HI, 1, PB_W16_CLAMP_ANY)                                                          \
    X(pb_fast_mm16_wide_hi_s16, PB_W16_HI, 1, PB_W16_CLAMP_S16)                                                      \
    X(pb_fast_mm16_wide_hi_relu, PB_W16_HI, 1, PB_W16_CLAMP_RELU)                                                    \
    X(pb_fast_mm16_wide_r64, PB_W16_R64, 1, PB_W16_CLAMP_ANY)                                                        \
    X(pb_fast_mm16_wide_r32, PB_W16_R32, 1, PB_W16_CLAMP_ANY)                                                        \
    X(pb_fast_mm16_int8_hi, PB_W16_HI, 0, PB_W16_CLAMP_ANY)                                                          \
    X(pb_fast_mm16_int8_hi_s16, PB_W16_HI, 0, PB_W16_CLAMP_S16)                                                      \
    X(pb_fast_mm16_int8_hi_relu, PB_W16_HI, 0, PB_W16_CLAMP_RELU)                                                    \
    X(pb_fast_mm16_int8_r64, PB_W16_R64, 0, PB_W16_CLAMP_ANY)                                                        \
    X(pb_fast_mm16_int8_r32, PB_W16_R32, 0, PB_W16_CLAMP_ANY)

#define PB_MM16_DECLARE(name, mode, wide, clamp)                                                                     \
    void name(const pb_fast_mm16_params_t *p, const int16_t *input, int16_t *output, void *scratch);
PB_MM16_FORMS(PB_MM16_DECLARE)
#undef PB_MM16_DECLARE

#endif /* PB_DSP_CONV16_H */
