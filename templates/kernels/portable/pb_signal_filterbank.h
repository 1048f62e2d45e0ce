#ifndef PB_SIGNAL_FILTERBANK_H_
#define PB_SIGNAL_FILTERBANK_H_

#include "pb_common.h"

/* SignalFilterBank: triangular filters over an energy spectrum. Channel i (of
 * num_channels + 1, the first one only opening the next) sums widths[i] bins from
 * frequency_starts[i] with weights from weight_starts[i]; each output is a channel's
 * weighted sum plus the previous channel's unweighted one, in 64 bits. */
typedef struct {
    int32_t num_channels;
    const int16_t *frequency_starts, *weight_starts, *widths;
    const int16_t *weights, *unweights;
} pb_signal_filter_bank_params_t;

void pb_signal_filter_bank_u32(const pb_signal_filter_bank_params_t *p, const uint32_t *input, uint64_t *output);

/* SignalFilterBankSquareRoot: the rounded square root of each channel, shifted right by
 * a run-time number of bits (an input), or by `shift` when the model fixes it. */
typedef struct {
    int32_t num_channels;
    int32_t shift;
} pb_signal_filter_bank_sqrt_params_t;

void pb_signal_filter_bank_sqrt_u64(const pb_signal_filter_bank_sqrt_params_t *p, const uint64_t *input,
                                    const int32_t *scale_bits, uint32_t *output);
void pb_signal_filter_bank_sqrt_const_u64(const pb_signal_filter_bank_sqrt_params_t *p, const uint64_t *input,
                                          uint32_t *output);

/* SignalFilterBankSpectralSubtraction: a running noise estimate per channel (its state,
 * num_channels uint32 values), subtracted from each channel down to a floor; the
 * estimate is the second output. Odd channels smooth with the alternate coefficients. */
typedef struct {
    int32_t num_channels;
    uint32_t smoothing, one_minus_smoothing;
    uint32_t alternate_smoothing, alternate_one_minus_smoothing;
    uint32_t min_signal_remaining;
    int32_t smoothing_bits, spectral_subtraction_bits;
    int32_t clamping;
} pb_signal_spectral_subtraction_params_t;

void pb_signal_spectral_subtraction_u32(const pb_signal_spectral_subtraction_params_t *p, const uint32_t *input,
                                        uint32_t *output, uint32_t *noise_estimate, void *state);

/* SignalPCAN: per-channel automatic gain control from the noise estimate (a gain from
 * gain_lut's piecewise quadratic), then the compressing "shrink" curve. */
typedef struct {
    int32_t num_channels;
    int32_t snr_shift;
    const int16_t *gain_lut;
} pb_signal_pcan_params_t;

void pb_signal_pcan_u32(const pb_signal_pcan_params_t *p, const uint32_t *input, const uint32_t *noise_estimate,
                        uint32_t *output);

/* SignalFilterBankLog: output_scale * ln(input << correction_bits), in fixed point from a
 * log2 table (129 segments of log2(1 + x) - x), saturated to int16; 0 for inputs <= 1. */
typedef struct {
    int32_t num_channels;
    uint32_t output_scale;
    int32_t correction_bits;
    const uint16_t *log_lut;
} pb_signal_filter_bank_log_params_t;

void pb_signal_filter_bank_log_u32(const pb_signal_filter_bank_log_params_t *p, const uint32_t *input,
                                   int16_t *output);

#endif
