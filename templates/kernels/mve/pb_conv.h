/* Fast int8 CONV_2D and FULLY_CONNECTED, Helium (MVE) tier for the Cortex-M55: one matrix
 * multiply over im2col rows (DEPTHWISE_CONV_2D is pb_depthwise_conv.h). The parameters and
 * layouts are this tier's own (protobrain/compiler/ops/tiers/mve.py); pb_conv.c describes
 * them. */
#ifndef PB_MVE_CONV_H
#define PB_MVE_CONV_H

#include "pb_common.h"

typedef struct {
    int32_t rows;               /* output pixels (batches * out_h * out_w), or FC batches */
    int32_t in_h, in_w, in_c;   /* input of one batch */
    int32_t out_h, out_w;
    int32_t out_c;              /* output channels computed (all but those with all-zero weights) */
    int32_t out_stride;         /* the layer's output channels: one output row's length */
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t depth;              /* taps per output: filter_h * filter_w * in_c */
    int32_t depth_pad;          /* depth rounded up to 16 (zero weights beyond) */
    int32_t direct;             /* 1: each row's taps are contiguous in the input, read in place */
    int32_t staged;             /* 1: per output row the input is staged column by column, each
                                 * pixel's taps ([kx][ky][c]) one run there, read in place */
    int32_t batch_rows;         /* im2col rows the scratch holds (even, >= 2) */
    int32_t pad_value;          /* the input zero point: what padding taps read */
    int32_t output_offset;
    int32_t act_min, act_max;
    int32_t requant;            /* PB_MVE_REQUANT_FAST or PB_MVE_REQUANT_GENERAL (pb_helium.h) */
    int32_t wide_weights;       /* always 0 here: int8 weights (the DSP tier's option) */
    int32_t indexed;            /* 1: some channels are skipped; blocks name their lanes' channels */
    /* per block of four computed channels: weights [depth_pad/16][4 channels][16] int8,
     * the quant group (FAST: bias', multiplier, -right_shift; GENERAL: all five vectors),
     * and when indexed the four lanes' output channels (pb_conv.c) */
    const int32_t *blocks;
    /* indexed: the row (out_stride bytes) every output row starts from, the skipped
     * channels' constants (their accumulator is the bias whatever the input); else NULL */
    const int32_t *const_row;
} pb_fast_mve_mm_params_t;

/* scratch: batch_rows im2col rows of depth_pad bytes, or NULL when the rows are read in
 * place (direct), or staged one output row's staged input; pb_fast_mve_mm_s8_scratch_bytes()
 * in compiler/ops/tiers/mve.py. */
void pb_fast_mve_mm_s8(const pb_fast_mve_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);

#endif /* PB_MVE_CONV_H */
