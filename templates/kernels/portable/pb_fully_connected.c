/* FULLY_CONNECTED, int8 and 16x8, per-tensor or per-channel weights. */
#include "pb_fully_connected.h"

void pb_fully_connected_s8(const pb_fully_connected_params_t *p, const int8_t *input, int8_t *output)
{
    int32_t b, oc, d;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *in = input + b * p->accum_depth;
        for (oc = 0; oc < p->output_depth; ++oc) {
            const int8_t *w = p->filter + oc * p->accum_depth;
            int32_t acc = 0;
            for (d = 0; d < p->accum_depth; ++d) {
                acc += (in[d] + p->input_offset) * (w[d] + p->filter_offset);
            }
            if (p->bias) {
                acc += p->bias[oc];
            }
            if (p->mults) {
                acc = pb_mul_by_quantized_mult(acc, p->mults[oc], p->shifts[oc]);
            } else {
                acc = pb_mul_by_quantized_mult(acc, p->mult, p->shift);
            }
            acc += p->output_offset;
            output[b * p->output_depth + oc] = (int8_t)PB_CLAMP(acc, p->act_min, p->act_max);
        }
    }
}

void pb_fully_connected_s16(const pb_fully_connected_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t b, oc, d;
    for (b = 0; b < p->batches; ++b) {
        const int16_t *in = input + b * p->accum_depth;
        for (oc = 0; oc < p->output_depth; ++oc) {
            const int8_t *w = p->filter + oc * p->accum_depth;
            int64_t acc = 0;
            int32_t r;
            for (d = 0; d < p->accum_depth; ++d) {
                acc += (int64_t)(w[d] + p->filter_offset) * in[d];
            }
            if (p->bias64) {
                acc += p->bias64[oc];
            }
            if (p->mults) {
                r = pb_mul_by_quantized_mult64(acc, p->mults[oc], p->shifts[oc]);
            } else {
                r = pb_mul_by_quantized_mult64(acc, p->mult, p->shift);
            }
            r += p->output_offset;
            output[b * p->output_depth + oc] = (int16_t)PB_CLAMP(r, p->act_min, p->act_max);
        }
    }
}
