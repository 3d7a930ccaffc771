/* Token labels from trained byte spans, in one pass over the tokens: a token
 * is trained when it lies wholly inside one trained span; a token that covers
 * a trained and an untrained byte straddles a mask boundary, stays masked and
 * is counted, so that the caller can tell the user. Then, for each end-of-turn
 * window, the first special token starting in it is trained (the end-of-turn
 * token after a trained assistant turn, as TRL and axolotl train it). */
#include <stdint.h>

#include "tokenizer.h"

int lacuna_labels_from_spans(const lacuna_encoding *e, const lacuna_span *trained, size_t ntrained,
                             const lacuna_span *eot, size_t neot, unsigned char *train,
                             lacuna_label_stats *st) {
  for (size_t k = 0; k < ntrained; k++)
    if (trained[k].to < trained[k].from || (k && trained[k].from < trained[k - 1].to)) return -1;
  for (size_t k = 0; k < neot; k++)
    if (eot[k].to < eot[k].from) return -1;
  st->straddling = 0;
  st->first = SIZE_MAX;
  size_t k = 0;
  for (size_t i = 0; i < e->n; i++) {
    size_t bs = e->byte_start[i], be = e->byte_end[i];
    train[i] = 0;
    if (be <= bs) continue; /* tokens the post-processor added cover no text */
    while (k < ntrained && trained[k].to <= bs) k++;
    if (k == ntrained) continue;
    if (trained[k].from <= bs && be <= trained[k].to)
      train[i] = 1;
    else if (trained[k].from < be) { /* overlaps the span without lying inside it */
      if (!st->straddling++) st->first = i;
    }
  }
  for (size_t j = 0; j < neot; j++) {
    size_t lo = 0, hi = e->n; /* first token starting at or after the window */
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (e->byte_start[mid] < eot[j].from)
        lo = mid + 1;
      else
        hi = mid;
    }
    for (size_t i = lo; i < e->n && e->byte_start[i] < eot[j].to; i++)
      if (e->special[i]) {
        train[i] = 1;
        break;
      }
  }
  return 0;
}
