/*
 * backoff: restart delays and the yo-yo (crash loop) tally.
 *
 * Pure. backoff_delay_ms(n) is initial * 2^(n-1), capped at max. svc calls
 * it with n = quick failures in a row minus one (a quick failure is an exit
 * before start_seconds; n resets once an instance reaches running), so the
 * first quick exit restarts at once and back-to-back ones back off. Independently every restart is
 * recorded in a ring of the last `limit + 1` restart times: when more than
 * `limit` restarts fall within `window`, the instance is in yo-yo mode and
 * is not restarted again (fatal). limit == 0 disables yo-yo detection.
 */
#ifndef DROVER_BACKOFF_H
#define DROVER_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

#define BACKOFF_YOYO_LIMIT_MAX 1000

struct backoff_policy {
    int64_t initial_ms;
    int64_t max_ms;
    unsigned yoyo_limit; /* more restarts than this within the window -> yo-yo */
    int64_t yoyo_window_ms;
};

struct backoff {
    int64_t *times; /* ring of yoyo_limit + 1 restart times, allocated on first use */
    unsigned size;  /* its slots: a policy with another limit (a reload) makes a new ring */
    unsigned head, count;
};

/* Delay before the restart that follows the n-th quick failure in a row (n >= 1). */
int64_t backoff_delay_ms(const struct backoff_policy *pol, unsigned n);

/*
 * Records a restart at now_ms. Returns 1 when this restart makes more than
 * yoyo_limit restarts within the window (yo-yo), 0 otherwise, -ENOMEM if
 * the ring could not be allocated (the restart is then not counted).
 */
int backoff_tally(struct backoff *b, const struct backoff_policy *pol, int64_t now_ms);

/* Forgets every recorded restart (an operator's start after fatal). */
void backoff_reset(struct backoff *b);
void backoff_done(struct backoff *b);

#endif
