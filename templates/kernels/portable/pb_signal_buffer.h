#ifndef PB_SIGNAL_BUFFER_H_
#define PB_SIGNAL_BUFFER_H_

#include "pb_common.h"

/* The stateful streaming operators of TFLite Micro's signal library. Their history lives
 * in the call's state (zeroed by reset) as rings of int16 samples, one per outer row,
 * each `ring_bytes` long: a header (read position, fill level, a flag) and `capacity`
 * samples. A ring's fill level is stored minus `prefill`, so zeroed state is a ring that
 * already holds `prefill` zero samples, as TFLite Micro's reset leaves it. */
typedef struct {
    int32_t frame_size, frame_step;
    int32_t outer, n_frames;      /* rows, and frames per row per call */
    int32_t capacity, prefill;
    int32_t ring_bytes;
} pb_signal_framer_params_t;

/* SignalFramer: each row's samples, frame_step at a time, into overlapping frames of
 * frame_size; *valid is 0 when some frame is not complete yet (left unwritten). */
void pb_signal_framer_s16(const pb_signal_framer_params_t *p, const int16_t *input, int16_t *output,
                          uint8_t *valid, void *state);

typedef struct {
    int32_t frame_size, delay;
    int32_t outer;
    int32_t capacity;
    int32_t ring_bytes;
} pb_signal_delay_params_t;

/* SignalDelay: each row delayed by `delay` samples (zeros at first). */
void pb_signal_delay_s16(const pb_signal_delay_params_t *p, const int16_t *input, int16_t *output, void *state);

typedef struct {
    int32_t num_channels, left_context;
    int32_t buffer_size, step_size; /* samples out per stack, samples dropped after one */
} pb_signal_stacker_params_t;

/* SignalStacker: stacks left_context + 1 + right_context frames of num_channels (the
 * first frame repeated left_context times at the start); *valid is 0 until a stack is
 * full (output left unwritten). */
void pb_signal_stacker_s16(const pb_signal_stacker_params_t *p, const int16_t *input, int16_t *output,
                           uint8_t *valid, void *state);

typedef struct {
    int32_t frame_size, frame_step;
    int32_t outer, n_frames;
} pb_signal_overlap_add_params_t;

/* SignalOverlapAdd: frames added into a frame_size running sum per row (the state; int16
 * saturates), frame_step finished samples out per frame. */
void pb_signal_overlap_add_s16(const pb_signal_overlap_add_params_t *p, const int16_t *input, int16_t *output,
                               void *state);
void pb_signal_overlap_add_f32(const pb_signal_overlap_add_params_t *p, const float *input, float *output,
                               void *state);

#endif
