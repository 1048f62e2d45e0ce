#ifndef PB_MOVE_H_
#define PB_MOVE_H_

#include "pb_common.h"

/* Data movement of any element type: TRANSPOSE, SLICE, SPLIT, PACK, BROADCAST_TO,
 * SPACE_TO_BATCH_ND, MIRROR_PAD, ... are each a short list of boxes, computed at generation
 * time. A box copies count[0] x ... x count[5] elements: for every index (i0, ..., i5),
 *   dst[dst_base + sum i_k * dst_step[k]] = src[src_base + sum i_k * src_step[k]]
 * in element units (steps may be negative, or 0 to repeat one element). Boxes run in order,
 * so a later box may read what an earlier one wrote. */
#define PB_MOVE_DIMS 6
/* A box is PB_MOVE_BOX int32s: src, dst, src_base, dst_base, count[6], src_step[6], dst_step[6]. */
#define PB_MOVE_BOX (4 + 3 * PB_MOVE_DIMS)

/* Buffers a box reads or writes: input k is k, output k is PB_MOVE_OUT(k), and the
 * params' constant elements are PB_MOVE_CONST. */
#define PB_MOVE_CONST (-1)
#define PB_MOVE_OUT(k) (-2 - (k))

typedef struct {
    int32_t elem_size;    /* bytes per element: 1, 2, 4 or 8 */
    int32_t n_boxes;
    const int32_t *boxes; /* n_boxes records of PB_MOVE_BOX int32s */
    const void *data;     /* constant elements (PB_MOVE_CONST), or NULL */
} pb_move_params_t;

void pb_move(const pb_move_params_t *p, const void *const *inputs, void *const *outputs);
/* The same, for a move that reads constants only (SHAPE, a constant graph output). */
void pb_move_const(const pb_move_params_t *p, void *const *outputs);

/* DYNAMIC_UPDATE_SLICE with start indices known at run time: box 0 (if any) copies the
 * operand into the output, box 1 copies the update to the output's origin, moved by the
 * start indices, each clamped to [0, limit[k]], times stride[k]. */
typedef struct {
    pb_move_params_t move;
    int32_t index;        /* the input holding the start indices */
    int32_t index_size;   /* 4 (int32 indices) or 8 (int64) */
    int32_t rank;
    const int32_t *limit; /* operand size - update size, per axis */
    const int32_t *stride;/* output elements per step of each axis */
} pb_update_slice_params_t;

void pb_update_slice(const pb_update_slice_params_t *p, const void *const *inputs, void *const *outputs);

/* GATHER, GATHER_ND and EMBEDDING_LOOKUP: output rows of `inner` elements, for each
 * (batch, outer, coord) in that order. Row (b, o, c) copies the table's elements from
 *   (b * outer + o) * block + sum_j index[(b * coords + c) * nd + j] * stride[j]
 * when that lies in [0, block - inner]; a row outside is written as zeros. */
typedef struct {
    int32_t elem_size;       /* table bytes per element */
    int32_t table, index;    /* buffers (input k, or PB_MOVE_CONST for table_data / index_data) */
    int32_t batches, outer, coords, nd;
    int32_t block, inner;
    const int32_t *stride;   /* nd entries */
    const void *table_data;
    const int32_t *index_data;
    float scale;             /* int8 table into a float32 output: (float)q * scale; else 0 */
} pb_gather_params_t;

void pb_gather(const pb_gather_params_t *p, const void *const *inputs, void *output);

#endif
