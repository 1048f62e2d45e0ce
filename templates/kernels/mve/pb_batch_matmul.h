/* Fast int8 BATCH_MATMUL, Helium (MVE) tier for the Cortex-M55: products of two
 * activations, or of an activation and a constant that differs between batches
 * (protobrain/compiler/ops/tiers/batch_matmul.py). Bit-exact with TensorFlow Lite Micro. */
#ifndef PB_MVE_BATCH_MATMUL_H
#define PB_MVE_BATCH_MATMUL_H

#include "pb_common.h"

typedef struct {
    int32_t batch[3];           /* output batch extents, outermost first */
    int32_t lhs_step[3];        /* lhs element step per batch index (0 = broadcast) */
    int32_t rhs_step[3];
    int32_t rows, cols, depth;  /* each output matrix is rows x cols */
    int32_t lhs_row_step, lhs_depth_step;
    int32_t rhs_depth_step, rhs_col_step;
    int32_t lhs_offset, rhs_offset; /* minus the zero points */
    int32_t output_offset;
    int32_t act_min, act_max;
    const void *lhs_data;       /* a constant operand (the call then takes the other), else NULL */
    const void *rhs_data;
    int32_t depth_pad;          /* depth rounded up to 16 */
    int32_t col_block;          /* columns gathered at once (a multiple of 4) */
    int32_t requant;            /* PB_MVE_REQUANT_FAST or PB_MVE_REQUANT_GENERAL (pb_helium.h) */
    const int32_t *quant;       /* one quant group (PB_MVE_GROUP_WORDS), four equal lanes */
} pb_fast_mve_bmm_params_t;

/* scratch: pb_fast_mve_bmm_s8_scratch_bytes() in compiler/ops/tiers/batch_matmul.py. */
void pb_fast_mve_bmm_s8(const pb_fast_mve_bmm_params_t *p, const int8_t *lhs, const int8_t *rhs, int8_t *output,
                        void *scratch);
void pb_fast_mve_bmm_s8_const_rhs(const pb_fast_mve_bmm_params_t *p, const int8_t *lhs, int8_t *output,
                                  void *scratch);
void pb_fast_mve_bmm_s8_const_lhs(const pb_fast_mve_bmm_params_t *p, const int8_t *rhs, int8_t *output,
                                  void *scratch);

#endif /* PB_MVE_BATCH_MATMUL_H */
