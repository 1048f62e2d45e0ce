#ifndef PB_DETECTION_H_
#define PB_DETECTION_H_

#include "pb_common.h"

/* TFLite_Detection_PostProcess: SSD box decoding and non-max suppression, float32.
 * boxes: num_boxes rows of box_stride encodings (y, x, h, w first); scores: num_boxes rows of
 * class_stride scores, class c at label_offset + c; anchors: num_boxes x (y, x, h, w).
 * Outputs: boxes (ymin, xmin, ymax, xmax), classes and scores per row, and the count.
 * regular: one suppression per class, else the fast form over each anchor's best
 * `categories` classes. The at_* fields are byte offsets of the scratch arrays. */
typedef struct {
    int32_t num_boxes, box_stride;
    int32_t num_classes, class_stride, label_offset;
    int32_t max_detections, categories, detections_per_class, regular;
    int32_t rows_boxes, rows_classes, rows_scores;
    float score_threshold, iou_threshold;
    float y_scale, x_scale, h_scale, w_scale;
    const float *anchors; /* constant anchors, or NULL when they are an input */
    int32_t at_decoded, at_class_scores, at_keep_scores, at_keep_indices, at_sorted, at_selected;
    int32_t at_order, at_top, at_after_index, at_after_scores, at_sorted_values, at_active;
} pb_detection_params_t;

void pb_detection_postprocess_f32(const pb_detection_params_t *p, const float *boxes, const float *scores,
                                  float *out_boxes, float *out_classes, float *out_scores, float *out_count,
                                  void *scratch);
void pb_detection_postprocess_anchors_f32(const pb_detection_params_t *p, const float *boxes, const float *scores,
                                          const float *anchors, float *out_boxes, float *out_classes,
                                          float *out_scores, float *out_count, void *scratch);

#endif
