/* Fast int8 DEPTHWISE_CONV_2D, DSP tier (Cortex-M4/M7/M33; plain C elsewhere). The
 * generator (protobrain/compiler/ops/tiers/dsp.py) lays the weights out and folds the
 * input offset into bias' and the pad row; requantization as in pb_requant.h. Results
 * are bit-exact with TensorFlow Lite Micro's reference kernels. */
#ifndef PB_DSP_DEPTHWISE_CONV_H
#define PB_DSP_DEPTHWISE_CONV_H

#include "pb_requant.h"

typedef struct {
    int32_t batches;
    int32_t in_h, in_w, channels; /* input channels */
    int32_t multiplier;           /* depth multiplier: channels * multiplier outputs per pixel (generic form) */
    int32_t out_h, out_w;
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t output_offset;      /* (the input offset is folded into bias' and the pad row) */
    int32_t act_min, act_max;
    int32_t requant;
    int32_t lines;              /* 1: the 3x3 stride-1 form on int16 lines (weights as PB_DW_LINE_WORDS blocks) */
    int32_t transposed;         /* lines form: lines run down the columns (out_h > out_w) */
    int32_t rows_form;          /* 1: the 3x3 stride 1-2 form on int16 rows (weights as PB_DW_ROWS_WORDS blocks) */
    const int32_t *weights;     /* packed, see pb_depthwise_conv.c */
    const int32_t *quant;       /* PB_QUANT_WORDS per output channel, in pass order (pb_depthwise_conv.c) */
    const int32_t *pad;         /* channels bytes of the input zero point: padding taps read it */
} pb_fast_dw_params_t;

/* Most taps (filter_h * filter_w) a depthwise window may have on the fast path. */
#define PB_FAST_DW_MAX_TAPS 64

/* Lines form, per channel: bias', (w0,w1) and (w1,w2) int16 pairs for each of the three
 * kernel lines, multiplier, rounding, right shift. */
#define PB_DW_LINE_WORDS 10

/* Rows form, per group of 4 channels: bias' x 4, (w0,w2), (w1,w3) int16 pairs for each of
 * the 9 taps, then multiplier, rounding, right shift for each channel. */
#define PB_DW_ROWS_WORDS 34

/* One input channel under any depth multiplier (micro_speech's spectrogram, multiplier
 * 8): an ordinary convolution with in_c 1, as a matrix multiply of two output pixels by
 * two output channels at a time over the pixels' taps widened to int16. */
typedef struct {
    int32_t batches;
    int32_t in_h, in_w;
    int32_t out_h, out_w;
    int32_t out_c;              /* the depth multiplier: output channels */
    int32_t filter_h, filter_w;
    int32_t stride_h, stride_w;
    int32_t dilation_h, dilation_w;
    int32_t pad_top, pad_left;
    int32_t run;                /* taps per filter row, filter_w rounded up to 4 (zero weights beyond) */
    int32_t pad_value;          /* the input zero point: what padding taps read */
    int32_t output_offset;
    int32_t act_min, act_max;
    int32_t requant;            /* FAST: weights and bias' doubled, as for wide mm weights */
    const int32_t *weights;     /* per channel pair, per block of 4 taps: four words of int16 pairs */
    const int32_t *quant;       /* PB_QUANT_WORDS per channel, out_c rounded up to even */
} pb_fast_dw_one_params_t;

/* Longest filter row (run) pb_fast_dw_one_s8 takes. */
#define PB_FAST_DW_ONE_MAX_RUN 64

/* scratch: two pixels' taps widened, 4 * filter_h * run bytes:
 * pb_fast_dw_one_s8_scratch_bytes() in compiler/ops/tiers/dsp.py. */
void pb_fast_dw_one_s8(const pb_fast_dw_one_params_t *p, const int8_t *input, int8_t *output, void *scratch);

/* The depthwise forms, all with one signature: generated code calls the one its layer's
 * constants select (dw_instance() in compiler/ops/tiers/dsp.py), so a firmware links only
 * those. scratch: the lines form's widened input lines, pb_fast_dw_s8_scratch_bytes() in
 * compiler/ops/tiers/dsp.py; the other forms use none (NULL is fine). */
void pb_fast_dw_lines_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_dw_rows_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_dw_3x3_fast_full_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_dw_3x3_fast_clamped_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_dw_3x3_exact_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_dw_any_fast_full_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_dw_any_fast_clamped_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_dw_any_exact_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_dw_multiplier_fast_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_dw_multiplier_exact_s8(const pb_fast_dw_params_t *p, const int8_t *input, int8_t *output, void *scratch);

#endif /* PB_DSP_DEPTHWISE_CONV_H */
