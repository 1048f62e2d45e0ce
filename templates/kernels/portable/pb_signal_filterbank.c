/* The filter bank steps of TFLite Micro's signal library: filter bank, square root,
 * spectral subtraction, PCAN gain control and log, in its integer arithmetic. */
#include "pb_signal_filterbank.h"
#include "pb_signal_common.h"

void pb_signal_filter_bank_u32(const pb_signal_filter_bank_params_t *p, const uint32_t *input, uint64_t *output)
{
    uint64_t weighted = 0, unweighted = 0;
    int32_t i, j;
    for (i = 0; i <= p->num_channels; ++i) {
        const uint32_t *x = input + p->frequency_starts[i];
        const int16_t *w = p->weights + p->weight_starts[i];
        const int16_t *u = p->unweights + p->weight_starts[i];
        for (j = 0; j < p->widths[i]; ++j) {
            /* A negative weight wraps modulo 2^64, as the reference's unsigned sum does. */
            weighted += (uint64_t)(int64_t)w[j] * x[j];
            unweighted += (uint64_t)(int64_t)u[j] * x[j];
        }
        if (i > 0) {
            output[i - 1] = weighted;
        }
        weighted = unweighted;
        unweighted = 0;
    }
}

/* Rounded integer square root, digit by digit from the highest even bit position. */
static uint32_t pb_signal_sqrt32(uint32_t num)
{
    uint32_t res = 0, bit;
    int32_t top, iterations;
    if (num == 0) {
        return 0;
    }
    top = (int32_t)(32u - pb_signal_msb32(num)) | 1;
    bit = 1u << (31 - top);
    iterations = (31 - top) / 2 + 1;
    while (iterations--) {
        if (num >= res + bit) {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if (num > res && res != 0xFFFFu) {
        ++res;
    }
    return (uint16_t)res;
}

static uint32_t pb_signal_sqrt64(uint64_t num)
{
    uint64_t res = 0, bit;
    int32_t top, iterations;
    if ((num >> 32) == 0) {
        return pb_signal_sqrt32((uint32_t)num);
    }
    top = (int32_t)(64u - pb_signal_msb64(num)) | 1;
    bit = (uint64_t)1 << (63 - top);
    iterations = (63 - top) / 2 + 1;
    while (iterations--) {
        if (num >= res + bit) {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if (num > res && res != 0xFFFFFFFFu) {
        ++res;
    }
    return (uint32_t)res;
}

/* The shift is only defined for 0..31 in C; the reference's host build shifts by the
 * count's low five bits, as x86 does. */
static void pb_signal_sqrt_rows(int32_t n, const uint64_t *input, int32_t shift, uint32_t *output)
{
    const uint32_t bits = (uint32_t)shift & 31u;
    int32_t i;
    for (i = 0; i < n; ++i) {
        output[i] = pb_signal_sqrt64(input[i]) >> bits;
    }
}

void pb_signal_filter_bank_sqrt_u64(const pb_signal_filter_bank_sqrt_params_t *p, const uint64_t *input,
                                    const int32_t *scale_bits, uint32_t *output)
{
    pb_signal_sqrt_rows(p->num_channels, input, *scale_bits, output);
}

void pb_signal_filter_bank_sqrt_const_u64(const pb_signal_filter_bank_sqrt_params_t *p, const uint64_t *input,
                                          uint32_t *output)
{
    pb_signal_sqrt_rows(p->num_channels, input, p->shift, output);
}

void pb_signal_spectral_subtraction_u32(const pb_signal_spectral_subtraction_params_t *p, const uint32_t *input,
                                        uint32_t *output, uint32_t *noise_estimate, void *state)
{
    uint32_t *noise = (uint32_t *)state;
    int32_t i;
    for (i = 0; i < p->num_channels; ++i) {
        const int odd = i & 1;
        const uint32_t smoothing = odd ? p->alternate_smoothing : p->smoothing;
        const uint32_t one_minus = odd ? p->alternate_one_minus_smoothing : p->one_minus_smoothing;
        const uint32_t signal = input[i] << p->smoothing_bits;
        uint32_t estimate, floor, subtracted;
        noise[i] = (uint32_t)(((uint64_t)signal * smoothing + (uint64_t)noise[i] * one_minus)
                              >> p->spectral_subtraction_bits);
        estimate = noise[i];
        if (estimate > signal) {
            estimate = signal;
            if (p->clamping) {
                noise[i] = estimate;
            }
        }
        floor = (uint32_t)(((uint64_t)input[i] * p->min_signal_remaining) >> p->spectral_subtraction_bits);
        subtracted = (signal - estimate) >> p->smoothing_bits;
        output[i] = subtracted > floor ? subtracted : floor;
        noise_estimate[i] = noise[i];
    }
}

/* The gain for a noise level x: lut holds 3 coefficients per power of two of x (after
 * lut[0..2] for x = 0, 1, 2), evaluated on x's next 10 bits. */
static int16_t pb_signal_pcan_gain(uint32_t x, const int16_t *lut)
{
    int32_t interval, frac, result;
    if (x <= 2) {
        return lut[x];
    }
    interval = (int32_t)pb_signal_msb32(x);
    lut += 4 * interval - 6;
    frac = (int32_t)((interval < 11 ? x << (11 - interval) : x >> (interval - 11)) & 0x3FFu);
    result = ((int32_t)lut[2] * frac) >> 5;
    result = (int32_t)((uint32_t)result + ((uint32_t)lut[1] << 5));
    result = (int32_t)((uint32_t)result * (uint32_t)frac);
    result = (int32_t)((uint32_t)result + (1u << 14)) >> 15;
    return (int16_t)(result + lut[0]);
}

/* PCAN's output curve: quadratic below 2 in Q12, then linear, in Q6. */
static uint32_t pb_signal_pcan_shrink(uint32_t x)
{
    if (x < (2u << 12)) {
        return (x * x) >> (2 + 2 * 12 - 6);
    }
    return (x >> (12 - 6)) - (1u << 6);
}

void pb_signal_pcan_u32(const pb_signal_pcan_params_t *p, const uint32_t *input, const uint32_t *noise_estimate,
                        uint32_t *output)
{
    int32_t i;
    for (i = 0; i < p->num_channels; ++i) {
        const uint32_t gain = (uint32_t)(int32_t)pb_signal_pcan_gain(noise_estimate[i], p->gain_lut);
        const uint32_t snr = (uint32_t)(((uint64_t)input[i] * gain) >> p->snr_shift);
        output[i] = pb_signal_pcan_shrink(snr);
    }
}

/* Fixed-point log2(x) in Q16, converted to ln and scaled by out_scale, rounding each step. */
static uint32_t pb_signal_log32(uint32_t x, uint32_t out_scale, const uint16_t *lut)
{
    const uint32_t integer = pb_signal_msb32(x) - 1u;
    int32_t frac = (int32_t)((int64_t)x - ((int64_t)1 << integer));
    uint32_t segment, fraction, log2, loge;
    int32_t c0, c1, rel;
    if (integer < 16u) {
        frac = (int32_t)((uint32_t)frac << (16u - integer));
    } else {
        frac >>= integer - 16u;
    }
    segment = (uint32_t)frac >> 9;
    c0 = lut[segment];
    c1 = lut[segment + 1];
    rel = ((c1 - c0) * (frac - (int32_t)(512u * segment))) >> 16;
    fraction = (uint32_t)(frac + c0 + rel);
    log2 = (integer << 16) + fraction;
    loge = (uint32_t)(((uint64_t)45426 * log2 + 32768u) >> 16);
    return (out_scale * loge + 32768u) >> 16;
}

void pb_signal_filter_bank_log_u32(const pb_signal_filter_bank_log_params_t *p, const uint32_t *input,
                                   int16_t *output)
{
    int32_t i;
    for (i = 0; i < p->num_channels; ++i) {
        const uint32_t scaled = input[i] << p->correction_bits;
        if (scaled > 1) {
            const uint32_t v = pb_signal_log32(scaled, p->output_scale, p->log_lut);
            output[i] = (int16_t)(v < 32767u ? v : 32767u);
        } else {
            output[i] = 0;
        }
    }
}
