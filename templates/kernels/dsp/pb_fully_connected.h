/* Fast int8 FULLY_CONNECTED of single rows into few output channels, DSP tier
 * (Cortex-M4/M7/M33; plain C elsewhere). The blocked matrix multiply (pb_conv.h) widens
 * its rows into scratch first; for one long row read by a few channels (micro_speech's
 * 4000 x 4) that copy would cost more RAM than it saves time, so here the row and the
 * weights are both read as int8 and widened with SXTB16 as they are multiplied. The
 * generator (protobrain/compiler/ops/tiers/fc_row.py) folds the input offset into bias'
 * and lays the weights out; requantization as in pb_requant.h. Bit-exact with TensorFlow
 * Lite Micro's reference kernel. */
#ifndef PB_DSP_FULLY_CONNECTED_H
#define PB_DSP_FULLY_CONNECTED_H

#include "pb_requant.h"

typedef struct {
    int32_t rows;               /* batches: rows computed one after another */
    int32_t depth;              /* values per row */
    int32_t out_c;              /* output channels (the row's output length) */
    int32_t output_offset;
    int32_t act_min, act_max;
    int32_t requant;            /* PB_REQUANT_FAST or PB_REQUANT_EXACT (never doubled) */
    const int32_t *weights;     /* per group of 4 channels, see pb_fully_connected.c */
    const int32_t *quant;       /* PB_QUANT_WORDS per channel, out_c rounded up to 4 */
} pb_fast_fc_row_params_t;

void pb_fast_fc_row_s8(const pb_fast_fc_row_params_t *p, const int8_t *input, int8_t *output);

#endif /* PB_DSP_FULLY_CONNECTED_H */
