/*
 * jobq: the in-memory job index. See jobq.h.
 */
#include "core/jobq.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define TYPES_MAX 4096

struct list {
    struct jobq_job *head, *tail;
};

struct jobq_type {
    char *name;
    struct list queue[JOBQ_PRIORITIES];
    size_t count[JOB__MAX];
};

struct jobq {
    uint8_t key[SIPHASH_KEY_BYTES]; /* of the id hash */
    struct jobq_type *types;
    size_t ntypes, captypes;
    struct jobq_job **buckets; /* a power of two of them */
    size_t nbuckets, size;
    struct jobq_job **heap;
    size_t nheap, capheap;
    struct list finished;
    size_t nfinished;
};

static void
list_push(struct list *l, struct jobq_job *j, bool front)
{
    j->prev = j->next = NULL;
    if (!l->head) {
        l->head = l->tail = j;
    } else if (front) {
        j->next = l->head;
        l->head->prev = j;
        l->head = j;
    } else {
        j->prev = l->tail;
        l->tail->next = j;
        l->tail = j;
    }
}

static void
list_unlink(struct list *l, struct jobq_job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        l->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        l->tail = j->prev;
    j->prev = j->next = NULL;
}

/* The heap: parent of i is (i - 1) / 2; each job knows its index. */
static bool
heap_less(const struct jobq *q, size_t a, size_t b)
{
    return q->heap[a]->due_ms < q->heap[b]->due_ms;
}

static void
heap_swap(struct jobq *q, size_t a, size_t b)
{
    struct jobq_job *t = q->heap[a];

    q->heap[a] = q->heap[b];
    q->heap[b] = t;
    q->heap[a]->heap_index = a;
    q->heap[b]->heap_index = b;
}

static void
heap_fix(struct jobq *q, size_t i)
{
    while (i > 0 && heap_less(q, i, (i - 1) / 2)) {
        heap_swap(q, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < q->nheap && heap_less(q, l, m))
            m = l;
        if (r < q->nheap && heap_less(q, r, m))
            m = r;
        if (m == i)
            return;
        heap_swap(q, i, m);
        i = m;
    }
}

static int
heap_push(struct jobq *q, struct jobq_job *j)
{
    if (q->nheap == q->capheap) {
        size_t cap = q->capheap ? q->capheap * 2 : 64;
        struct jobq_job **h = realloc(q->heap, cap * sizeof(*h));

        if (!h)
            return -ENOMEM;
        q->heap = h;
        q->capheap = cap;
    }
    j->heap_index = q->nheap;
    q->heap[q->nheap++] = j;
    heap_fix(q, j->heap_index);
    return 0;
}

static void
heap_remove(struct jobq *q, struct jobq_job *j)
{
    size_t i = j->heap_index;

    assert(i < q->nheap && q->heap[i] == j);
    q->nheap--;
    if (i != q->nheap) {
        q->heap[i] = q->heap[q->nheap];
        q->heap[i]->heap_index = i;
        heap_fix(q, i);
    }
}

/* Out of its queue, heap or list; it stays in the hash and counted. */
static void
unplace(struct jobq *q, struct jobq_job *j)
{
    switch (j->place) {
    case JOBQ_QUEUED:
        list_unlink(&q->types[j->type].queue[j->priority], j);
        break;
    case JOBQ_DUE_HEAP:
        heap_remove(q, j);
        break;
    case JOBQ_FINISHED:
        list_unlink(&q->finished, j);
        q->nfinished--;
        break;
    case JOBQ_NOWHERE:
    case JOBQ_HELD:
        break;
    }
    j->place = JOBQ_NOWHERE;
}

static void
recount(struct jobq *q, struct jobq_job *j, enum job_state st)
{
    size_t *count = q->types[j->type].count;

    if (j->counted >= 0 && j->counted < JOB__MAX)
        count[j->counted]--;
    if (st >= 0 && st < JOB__MAX)
        count[st]++;
    j->counted = st;
}

struct jobq *
jobq_new(const uint8_t key[SIPHASH_KEY_BYTES])
{
    struct jobq *q = calloc(1, sizeof(*q));

    if (!q)
        return NULL;
    memcpy(q->key, key, SIPHASH_KEY_BYTES);
    q->nbuckets = 64;
    q->buckets = calloc(q->nbuckets, sizeof(*q->buckets));
    if (!q->buckets) {
        free(q);
        return NULL;
    }
    return q;
}

void
jobq_free(struct jobq *q, void (*free_job)(struct jobq_job *j))
{
    if (!q)
        return;
    for (size_t b = 0; b < q->nbuckets; b++)
        for (struct jobq_job *j = q->buckets[b], *next; j; j = next) {
            next = j->hnext;
            if (free_job)
                free_job(j);
        }
    for (size_t t = 0; t < q->ntypes; t++)
        free(q->types[t].name);
    free(q->types);
    free(q->buckets);
    free(q->heap);
    free(q);
}

int
jobq_type(struct jobq *q, const char *type)
{
    for (size_t t = 0; t < q->ntypes; t++)
        if (strcmp(q->types[t].name, type) == 0)
            return (int)t;
    if (q->ntypes == TYPES_MAX)
        return -E2BIG;
    if (q->ntypes == q->captypes) {
        size_t cap = q->captypes ? q->captypes * 2 : 8;
        struct jobq_type *v = realloc(q->types, cap * sizeof(*v));

        if (!v)
            return -ENOMEM;
        q->types = v;
        q->captypes = cap;
    }
    q->types[q->ntypes] = (struct jobq_type){ .name = strdup(type) };
    if (!q->types[q->ntypes].name)
        return -ENOMEM;
    return (int)q->ntypes++;
}

const char *
jobq_type_name(const struct jobq *q, unsigned type)
{
    return type < q->ntypes ? q->types[type].name : NULL;
}

size_t
jobq_ntypes(const struct jobq *q)
{
    return q->ntypes;
}

static uint64_t
hash_of(const struct jobq *q, const char *id)
{
    return siphash24(q->key, id, strlen(id));
}

static size_t
bucket_of(const struct jobq *q, const char *id)
{
    return (size_t)hash_of(q, id) & (q->nbuckets - 1);
}

/* Twice the buckets once there are more jobs than buckets; a failed growth only costs speed. */
static void
maybe_grow(struct jobq *q)
{
    size_t n = q->nbuckets * 2;
    struct jobq_job **b;

    if (q->size <= q->nbuckets || n > SIZE_MAX / sizeof(*b))
        return;
    b = calloc(n, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < q->nbuckets; i++)
        for (struct jobq_job *j = q->buckets[i], *next; j; j = next) {
            size_t k = (size_t)hash_of(q, j->id) & (n - 1);

            next = j->hnext;
            j->hnext = b[k];
            b[k] = j;
        }
    free(q->buckets);
    q->buckets = b;
    q->nbuckets = n;
}

struct jobq_job *
jobq_find(const struct jobq *q, const char *id)
{
    for (struct jobq_job *j = q->buckets[bucket_of(q, id)]; j; j = j->hnext)
        if (strcmp(j->id, id) == 0)
            return j;
    return NULL;
}

int
jobq_add(struct jobq *q, struct jobq_job *j)
{
    size_t b;

    if (j->type >= q->ntypes || j->priority >= JOBQ_PRIORITIES)
        return -EINVAL;
    if (jobq_find(q, j->id))
        return -EEXIST;
    j->place = JOBQ_NOWHERE;
    j->counted = JOB_INVALID;
    j->prev = j->next = NULL;
    b = bucket_of(q, j->id);
    j->hnext = q->buckets[b];
    q->buckets[b] = j;
    q->size++;
    recount(q, j, j->sm.state);
    maybe_grow(q);
    return 0;
}

void
jobq_remove(struct jobq *q, struct jobq_job *j)
{
    struct jobq_job **p = &q->buckets[bucket_of(q, j->id)];

    unplace(q, j);
    recount(q, j, JOB_INVALID);
    while (*p && *p != j)
        p = &(*p)->hnext;
    if (*p) {
        *p = j->hnext;
        q->size--;
    }
    j->hnext = NULL;
}

int
jobq_place(struct jobq *q, struct jobq_job *j, bool front, int64_t due_ms)
{
    unplace(q, j);
    recount(q, j, j->sm.state);
    switch (j->sm.state) {
    case JOB_WAITING:
        list_push(&q->types[j->type].queue[j->priority], j, front);
        j->place = JOBQ_QUEUED;
        return 0;
    case JOB_DELAYED:
    case JOB_RETRY_WAIT:
        j->due_ms = due_ms;
        if (heap_push(q, j) < 0)
            return -ENOMEM;
        j->place = JOBQ_DUE_HEAP;
        return 0;
    case JOB_DISPATCHED:
    case JOB_RUNNING:
        j->place = JOBQ_HELD;
        return 0;
    case JOB_SUCCESS:
    case JOB_FAILED:
    case JOB_CANCELLED:
        list_push(&q->finished, j, false);
        q->nfinished++;
        j->place = JOBQ_FINISHED;
        return 0;
    case JOB__MAX:
    case JOB_INVALID:
        break;
    }
    return -EINVAL;
}

struct jobq_job *
jobq_peek(const struct jobq *q, unsigned type)
{
    if (type >= q->ntypes)
        return NULL;
    for (int p = JOBQ_PRIORITIES - 1; p >= 0; p--)
        if (q->types[type].queue[p].head)
            return q->types[type].queue[p].head;
    return NULL;
}

struct jobq_job *
jobq_pop(struct jobq *q, unsigned type)
{
    struct jobq_job *j = jobq_peek(q, type);

    if (j)
        unplace(q, j);
    return j;
}

struct jobq_job *
jobq_pop_due(struct jobq *q, int64_t now_ms)
{
    struct jobq_job *j;

    if (q->nheap == 0 || q->heap[0]->due_ms > now_ms)
        return NULL;
    j = q->heap[0];
    unplace(q, j);
    return j;
}

int64_t
jobq_next_due(const struct jobq *q)
{
    return q->nheap ? q->heap[0]->due_ms : INT64_MAX;
}

struct jobq_job *
jobq_oldest_finished(const struct jobq *q)
{
    return q->finished.head;
}

size_t
jobq_count(const struct jobq *q, unsigned type, enum job_state st)
{
    return type < q->ntypes && st >= 0 && st < JOB__MAX ? q->types[type].count[st] : 0;
}

size_t
jobq_size(const struct jobq *q)
{
    return q->size;
}

size_t
jobq_nfinished(const struct jobq *q)
{
    return q->nfinished;
}

int
jobq_each(const struct jobq *q, int (*f)(struct jobq_job *j, void *arg), void *arg)
{
    for (size_t b = 0; b < q->nbuckets; b++)
        for (struct jobq_job *j = q->buckets[b], *next; j; j = next) {
            int r;

            next = j->hnext;
            if ((r = f(j, arg)) != 0)
                return r;
        }
    return 0;
}
