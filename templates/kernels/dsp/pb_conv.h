/* Fast int8 kernels, DSP tier (Cortex-M4/M7/M33; plain C elsewhere): CONV_2D and
 * FULLY_CONNECTED as one blocked matrix multiply over im2col rows. DEPTHWISE_CONV_2D is
 * pb_depthwise_conv.h; the Helium tier has its own (mve/).
 *
 * The generator (protobrain/compiler/ops/tiers/dsp.py) lays the weights out and folds every
 * constant it can:
 *   - the input offset into the bias (bias' = bias - zero_point * sum(w)), so the inner
 *     loops multiply raw int8 values; taps that fall in the padding hold the zero point
 *     itself, which contributes nothing;
 *   - the output offset and the rounding of the final shift into one per-channel constant,
 *     when the accumulator's bound (known from the weights) leaves room for it.
 * Results are bit-exact with TensorFlow Lite Micro's reference kernels. */
#ifndef PB_DSP_CONV_H
#define PB_DSP_CONV_H

#include "pb_requant.h"
#include "pb_rows4.h"

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
    int32_t depth_pad;          /* depth rounded up to the tier's block (zero weights beyond) */
    int32_t split_rows;         /* in_c not a multiple of 4, dilation_w 1: the taps in the split
                                 * layout, every filter row's whole words, then every row's
                                 * last (filter_w * in_c) % 4 taps (pb_conv.c); 0: contiguous */
    int32_t pad_value;          /* the input zero point: what padding taps read */
    int32_t output_offset;
    int32_t act_min, act_max;
    int32_t requant;            /* PB_REQUANT_FAST or PB_REQUANT_EXACT */
    int32_t wide_weights;       /* DSP tier: weights stored as int16 (twice the flash, faster) */
    int32_t lean_weights;       /* int8 weights coded for one SXTB16 per word (pb_conv.c), 256 * acc */
    const int32_t *weights;     /* packed for the tier, see pb_conv.c */
    const int32_t *quant;       /* PB_QUANT_WORDS per output channel, out_c rounded up to even; or,
                                 * with quant_shared, bias' only (one word per channel) */
    const int32_t *quant_shared; /* NULL, or the words every channel shares (all but bias') */
    /* NULL when every channel is computed; else the output channel of each computed one,
     * and the row (out_stride bytes) every output row starts from: the skipped channels'
     * constants (their accumulator is the bias whatever the input) */
    const int32_t *out_index;
    const int32_t *const_row;
    /* NULL, or one input row read as it lies (pb_fast_mm_one_row_*): each output channel's
     * bias', out_c rounded up to 4, with the weights in pb_rows4.h's blocks (pb_conv.c) */
    const int32_t *row_bias;
} pb_fast_mm_params_t;

/* The matrix multiply's instances, one per weight width and requantization form, all with
 * one signature: generated code calls the one its layer's constants select (mm_instance()
 * in compiler/ops/tiers/dsp.py picks it at generation time), so a firmware links only
 * those. scratch: planned in the arena by the generator, pb_fast_mm_s8_scratch_bytes() in
 * compiler/ops/tiers/dsp.py (NULL when that is 0). */
void pb_fast_mm_wide_doubled_full(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_mm_wide_doubled_clamped(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_mm_wide_doubled_full_sparse(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output,
                                         void *scratch);
void pb_fast_mm_wide_doubled_clamped_sparse(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output,
                                            void *scratch);
/* the channel-loop routine (pb_conv.c's pb_fast_mm_short_pairs): wide FAST full-range, out_c
 * (the computed channels) even */
void pb_fast_mm_wide_short_full(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_mm_wide_short_full_sparse(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output,
                                       void *scratch);
/* a pointwise layer from 8 channels (pb_conv.c): weights as per-channel records, out_c a multiple of 4 */
void pb_fast_mm_wide_pw8_full(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_mm_wide_exact(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);
/* one input row (row_bias set): four channels at a time by pb_rows4.h's routine */
void pb_fast_mm_one_row_fast_full(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_mm_one_row_fast_clamped(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output,
                                     void *scratch);
void pb_fast_mm_one_row_exact(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_mm_int8_fast_full(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_mm_int8_fast_clamped(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_mm_int8_exact(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_mm_lean_fast_full(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_mm_lean_fast_clamped(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);
void pb_fast_mm_lean_fast_full_shared(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output,
                                      void *scratch);
void pb_fast_mm_lean_fast_clamped_shared(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output,
                                         void *scratch);
void pb_fast_mm_lean_exact(const pb_fast_mm_params_t *p, const int8_t *input, int8_t *output, void *scratch);

#endif /* PB_DSP_CONV_H */
