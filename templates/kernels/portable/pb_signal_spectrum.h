#ifndef PB_SIGNAL_SPECTRUM_H_
#define PB_SIGNAL_SPECTRUM_H_

#include "pb_common.h"

/* SignalWindow: each window-length row of the input times the window, shifted right and
 * saturated to int16. */
typedef struct {
    int32_t size;            /* input samples (a whole number of windows) */
    int32_t window_size;
    int32_t shift;
    const int16_t *window;
} pb_signal_window_params_t;

void pb_signal_window_s16(const pb_signal_window_params_t *p, const int16_t *input, int16_t *output);

/* SignalFftAutoScale: the input shifted left as far as its largest magnitude allows, and
 * that shift. */
typedef struct {
    int32_t size;
} pb_signal_fft_auto_scale_params_t;

void pb_signal_fft_auto_scale_s16(const pb_signal_fft_auto_scale_params_t *p, const int16_t *input,
                                  int16_t *output, int32_t *scale_bits);

/* SignalEnergy: re^2 + im^2 of the complex values start..end-1 (other outputs untouched,
 * as TFLite Micro leaves them). */
typedef struct {
    int32_t start, end;
} pb_signal_energy_params_t;

void pb_signal_energy_s16(const pb_signal_energy_params_t *p, const int16_t *input, uint32_t *output);

#endif
