/* Fast int8 kernels, Helium (MVE) tier for the Cortex-M55: CONV_2D / FULLY_CONNECTED as
 * one matrix multiply over im2col rows, and DEPTHWISE_CONV_2D. The parameters and layouts
 * are this tier's own (protobrain/ops/fast_mve.py); pb_fast_mve.c describes them. */
#ifndef PB_FAST_MVE_H
#define PB_FAST_MVE_H

#include "pb_common.h"

/* Requantization of four int32 lanes, TFLite's MultiplyByQuantizedMultiplier exactly:
 * FAST when every channel shifts right by at least one bit and none left; GENERAL also
 * applies the left shifts and skips the half-away-from-zero fix where the right shift is 0. */
#define PB_MVE_REQUANT_FAST 1
#define PB_MVE_REQUANT_GENERAL 2

/* Words per quant group of four lanes: bias'[4], multiplier[4], -right_shift[4],
 * left_shift[4], fix mask[4] (-1 where right_shift >= 1, else 0). */
#define PB_MVE_GROUP_WORDS 20
/* A FAST layer's multiply keeps the first three (bias', multiplier, -right_shift). */
#define PB_MVE_FAST_GROUP_WORDS 12

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
    int32_t batch_rows;         /* im2col rows the scratch holds (even, >= 2) */
    int32_t pad_value;          /* the input zero point: what padding taps read */
    int32_t output_offset;
    int32_t act_min, act_max;
    int32_t requant;            /* PB_MVE_REQUANT_FAST or PB_MVE_REQUANT_GENERAL */
    int32_t wide_weights;       /* always 0 here: int8 weights (the DSP tier's option) */
    int32_t indexed;            /* 1: some channels are skipped; blocks name their lanes' channels */
    /* per block of four computed channels: weights [depth_pad/16][4 channels][16] int8,
     * the quant group (FAST: bias', multiplier, -right_shift; GENERAL: all five vectors),
     * and when indexed the four lanes' output channels (pb_fast_mve.c) */
    const int32_t *blocks;
    /* indexed: the row (out_stride bytes) every output row starts from, the skipped
     * channels' constants (their accumulator is the bias whatever the input); else NULL */
    const int32_t *const_row;
} pb_fast_mve_mm_params_t;

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, channels;
    int32_t out_h, out_w;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t input_offset, output_offset;
    int32_t act_min, act_max;
    int32_t requant;
    const int32_t *weights;     /* [channels/8][taps][8] int16 */
    const int32_t *quant;       /* per 8 channels two groups: lanes c,c+2,c+4,c+6 then c+1,...,c+7 */
    const int32_t *pad;         /* channels bytes of the input zero point: padding taps read it */
} pb_fast_mve_dw_params_t;

/* scratch: batch_rows im2col rows of depth_pad bytes, or NULL when the rows are read in place (direct). */
void pb_fast_mve_mm_s8(const pb_fast_mve_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);
/* scratch: three window rows of (out_w - 1) * stride_w + 2 * dilation_w + 1 pixels. */
void pb_fast_mve_dw_s8(const pb_fast_mve_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch);

#endif /* PB_FAST_MVE_H */
