/* int16 activations: LOGISTIC, TANH (interpolated sigmoid table), RELU, RELU6, LEAKY_RELU. */
#include "pb_activation.h"

static int32_t pb_rescale_input(const pb_sigmoid_s16_params_t *p, int16_t x)
{
    const int32_t round = p->shift > 0 ? (int32_t)1 << (p->shift - 1) : 0;
    return (x * p->multiplier + round) >> p->shift;
}

void pb_logistic_s16(const pb_sigmoid_s16_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t x = pb_rescale_input(p, input[i]);
        /* Table step is 1/24; the rescaled input has 9 fraction bits per step. */
        const uint32_t ax = (uint32_t)(x < 0 ? -x : x);
        const uint32_t seg = ax >> 9;
        uint32_t r;
        if (seg >= 255u) {
            r = 0x7FFFu << 10;
        } else {
            const uint32_t a = p->table[seg];
            const uint32_t b = p->table[seg + 1u];
            r = (a << 9) + (ax & 0x1FFu) * (b - a);
        }
        /* sigmoid(-x) = 1 - sigmoid(x); back to Q0.15 with rounding. */
        r = x >= 0 ? r + (1u << 9) : (1u << 25) - r + (1u << 9) - 1u;
        output[i] = (int16_t)(r >> 10);
    }
}

void pb_tanh_s16(const pb_sigmoid_s16_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t x = pb_rescale_input(p, input[i]);
        /* tanh(x) = 2 * sigmoid(2x) - 1: the same table at half the step. */
        const uint32_t ax = (uint32_t)(x < 0 ? -x : x);
        const uint32_t seg = ax >> 8;
        int32_t r;
        if (seg >= 255u) {
            r = 0xFFFF << 8;
        } else {
            const uint32_t a = p->table[seg];
            const uint32_t b = p->table[seg + 1u];
            r = (int32_t)((a << 8) + (ax & 0xFFu) * (b - a));
        }
        r = x >= 0 ? r - (1 << 23) + (1 << 7) : -r + (1 << 23) + (1 << 7) - 1;
        output[i] = (int16_t)(r >> 8);
    }
}

void pb_relu_s16(const pb_relu_s16_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        int32_t v = p->output_offset + pb_mul_by_quantized_mult(input[i] - p->input_offset, p->mult, p->shift);
        output[i] = (int16_t)PB_CLAMP(v, p->act_min, p->act_max);
    }
}

void pb_clamp_s16(const pb_clamp_s16_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t v = input[i];
        output[i] = (int16_t)(v > p->hi ? p->hi : (v < p->lo ? p->lo : v));
    }
}

void pb_leaky_relu_s16(const pb_leaky_relu_s16_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->size; ++i) {
        const int32_t x = input[i] - p->input_offset;
        int32_t v = p->output_offset;
        if (x >= 0) {
            v += pb_mul_by_quantized_mult(x, p->mult_identity, p->shift_identity);
        } else {
            const int32_t s = pb_mul_by_quantized_mult(x, p->mult_alpha, p->shift_alpha);
            v += p->alpha_negative ? -s : s;
        }
        output[i] = (int16_t)PB_CLAMP(v, -32768, 32767);
    }
}
