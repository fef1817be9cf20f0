/*
 * http_jobs: the jobs endpoints (docs/jobs-http.md) on both servers:
 * POST /jobs[?wait=], GET /jobs/ID[?wait=], GET /jobs, POST
 * /jobs/ID/cancel and /retry, DELETE /jobs/ID, GET /queues, GET
 * /jobs/events. The answers are core/api_jobs's and core/jobrec's; the
 * jobs are daemon/jobs's. A wait parks the connection (http_conn.c) until
 * the job changes (sup->jobs_change, woken before the loop sleeps) or the
 * wait ends.
 */
#ifndef DROVER_HTTP_JOBS_H
#define DROVER_HTTP_JOBS_H

#include <microhttpd.h>
#include <stdbool.h>

struct http_server;
struct http_conn;

/* url is one of the jobs endpoints (/jobs, /jobs/..., /queues). */
bool http_jobs_route(const char *url);
/* A request whose body is a job (POST /jobs): sets c->body_max; true when it takes one. */
bool http_jobs_takes_body(struct http_server *srv, struct http_conn *c, const char *url,
                          const char *method);
enum MHD_Result http_jobs_handle(struct MHD_Connection *conn, struct http_server *srv,
                                 struct http_conn *c, const char *url, const char *method);
/* A parked job long-poll was woken: it answers, or parks again for the rest of its wait. */
enum MHD_Result http_jobs_woken(struct MHD_Connection *conn, struct http_server *srv,
                                struct http_conn *c);

#endif
