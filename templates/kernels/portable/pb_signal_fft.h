#ifndef PB_SIGNAL_FFT_H_
#define PB_SIGNAL_FFT_H_

#include "pb_common.h"

/* Real FFT and its inverse (SignalRfft, SignalIrfft), as TFLite Micro computes them: a
 * mixed-radix (4, 2, 3, 5) complex FFT of half the length over the samples taken in pairs,
 * then the split that separates the two real halves. Fixed-point forms scale each stage
 * down (by its radix) and round as TFLite Micro does. Complex values are (re, im) pairs. */
typedef struct {
    int32_t fft_length;             /* real samples per transform (even) */
    int32_t rows;                   /* transforms per call */
    int32_t in_row, out_row;        /* scalars per input row and per output row */
    const int32_t *factors;         /* (radix, length left) pairs of the fft_length/2 FFT */
    const void *twiddles;           /* fft_length/2 complex twiddles, of the sample type */
    const void *super_twiddles;     /* fft_length/4 complex twiddles of the split */
} pb_signal_fft_params_t;

/* Rfft rows: in_row samples (zero-padded to fft_length) in, fft_length/2 + 1 complex
 * values out. scratch: 2 * fft_length samples. */
void pb_signal_rfft_s16(const pb_signal_fft_params_t *p, const int16_t *input, int16_t *output, void *scratch);
void pb_signal_rfft_s32(const pb_signal_fft_params_t *p, const int32_t *input, int32_t *output, void *scratch);
void pb_signal_rfft_f32(const pb_signal_fft_params_t *p, const float *input, float *output, void *scratch);

/* Irfft rows: fft_length/2 + 1 complex values in, fft_length samples out (the float form
 * divides by fft_length). scratch: fft_length samples. */
void pb_signal_irfft_s16(const pb_signal_fft_params_t *p, const int16_t *input, int16_t *output, void *scratch);
void pb_signal_irfft_s32(const pb_signal_fft_params_t *p, const int32_t *input, int32_t *output, void *scratch);
void pb_signal_irfft_f32(const pb_signal_fft_params_t *p, const float *input, float *output, void *scratch);

#endif
