/* SignalWindow, SignalFftAutoScale and SignalEnergy, as TFLite Micro's signal library
 * computes them. */
#include "pb_signal_spectrum.h"
#include "pb_signal_common.h"

void pb_signal_window_s16(const pb_signal_window_params_t *p, const int16_t *input, int16_t *output)
{
    int32_t row, k;
    for (row = 0; row < p->size; row += p->window_size) {
        for (k = 0; k < p->window_size; ++k) {
            const int32_t v = ((int32_t)input[row + k] * p->window[k]) >> p->shift;
            output[row + k] = (int16_t)PB_CLAMP(v, INT16_MIN, INT16_MAX);
        }
    }
}

void pb_signal_fft_auto_scale_s16(const pb_signal_fft_auto_scale_params_t *p, const int16_t *input,
                                  int16_t *output, int32_t *scale_bits)
{
    /* The largest magnitude, kept in int16 as TFLite Micro keeps it: -32768 stays
     * -32768, whose bit count (32, as an unsigned) then leaves the input unscaled. */
    int16_t top = 0;
    int32_t bits, k;
    for (k = 0; k < p->size; ++k) {
        const int16_t v = input[k];
        if (v > top) {
            top = v;
        } else if (-v > top) {
            top = (int16_t)-v;
        }
    }
    bits = 16 - (int32_t)pb_signal_msb32((uint32_t)(int32_t)top) - 1;
    if (bits < 0) {
        bits = 0;
    }
    for (k = 0; k < p->size; ++k) {
        output[k] = (int16_t)((int32_t)input[k] * (1 << bits));
    }
    *scale_bits = bits;
}

void pb_signal_energy_s16(const pb_signal_energy_params_t *p, const int16_t *input, uint32_t *output)
{
    int32_t k;
    for (k = p->start; k < p->end; ++k) {
        const int32_t re = input[2 * k], im = input[2 * k + 1];
        output[k] = (uint32_t)(re * re) + (uint32_t)(im * im);
    }
}
