/*
 * test_probe_spec: the pure probe parsers. TCP "HOST:PORT" and HTTP
 * "http://HOST[:PORT][/PATH]" targets (numeric IPv4, bracketed IPv6,
 * localhost; ports 1..65535; the host[] and path[] limits; everything that
 * would need DNS or cannot go into a request line is refused, and a refusal
 * leaves the out-parameter as it was), HTTP status lines read within their
 * length only, and the name of every probe kind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/probe_spec.h"

/* What a refused parse must leave in its out-parameter: this, untouched. */
#define SENTINEL 0xa5

static void
fill_sentinel(struct probe_addr *a)
{
    memset(a, SENTINEL, sizeof(*a));
}

static void
assert_untouched(const struct probe_addr *a)
{
    struct probe_addr want;

    fill_sentinel(&want);
    assert_memory_equal(a, &want, sizeof(want));
}

/* An accepted IPv4 target: family, length, address (a.b.c.d as 0xaabbccdd), port, host. */
static void
assert_v4(const struct probe_addr *a, uint32_t addr, uint16_t port, const char *host)
{
    const struct sockaddr_in *in4 = (const struct sockaddr_in *)&a->sa;

    assert_int_equal(a->sa.ss_family, AF_INET);
    assert_int_equal(a->len, sizeof(struct sockaddr_in));
    assert_int_equal(in4->sin_addr.s_addr, htonl(addr));
    assert_int_equal(ntohs(in4->sin_port), port);
    assert_string_equal(a->host, host);
}

static void
assert_v6(const struct probe_addr *a, const char *addr, uint16_t port, const char *host)
{
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->sa;
    struct in6_addr want;

    assert_int_equal(inet_pton(AF_INET6, addr, &want), 1);
    assert_int_equal(a->sa.ss_family, AF_INET6);
    assert_int_equal(a->len, sizeof(struct sockaddr_in6));
    assert_memory_equal(&in6->sin6_addr, &want, sizeof(want));
    assert_int_equal(ntohs(in6->sin6_port), port);
    assert_string_equal(a->host, host);
}

static void
tcp_accepts_ipv4(void **state)
{
    struct probe_addr a;
    (void)state;

    fill_sentinel(&a);
    assert_int_equal(probe_parse_tcp("127.0.0.1:8080", &a), 0);
    assert_v4(&a, 0x7f000001, 8080, "127.0.0.1");
    assert_string_equal(a.path, ""); /* tcp has no path: cleared, not left as it was */

    assert_int_equal(probe_parse_tcp("10.1.2.3:1", &a), 0);
    assert_v4(&a, 0x0a010203, 1, "10.1.2.3");
    assert_int_equal(probe_parse_tcp("255.255.255.255:65535", &a), 0);
    assert_v4(&a, 0xffffffff, 65535, "255.255.255.255");
    assert_int_equal(probe_parse_tcp("0.0.0.0:9100", &a), 0);
    assert_v4(&a, 0, 9100, "0.0.0.0");
    /* Up to five digits, leading zeros included. */
    assert_int_equal(probe_parse_tcp("192.168.0.9:00080", &a), 0);
    assert_v4(&a, 0xc0a80009, 80, "192.168.0.9");
}

static void
tcp_accepts_bracketed_ipv6(void **state)
{
    struct probe_addr a;
    (void)state;

    fill_sentinel(&a);
    /* host is the address without its brackets. */
    assert_int_equal(probe_parse_tcp("[::1]:9000", &a), 0);
    assert_v6(&a, "::1", 9000, "::1");
    assert_string_equal(a.path, "");
    assert_int_equal(probe_parse_tcp("[fe80::1:2]:1", &a), 0);
    assert_v6(&a, "fe80::1:2", 1, "fe80::1:2");
    assert_int_equal(probe_parse_tcp("[2001:db8::ff]:65535", &a), 0);
    assert_v6(&a, "2001:db8::ff", 65535, "2001:db8::ff");
    assert_int_equal(probe_parse_tcp("[::ffff:10.0.0.1]:443", &a), 0);
    assert_v6(&a, "::ffff:10.0.0.1", 443, "::ffff:10.0.0.1");
    /* The longest text an IPv6 address has (INET6_ADDRSTRLEN - 1 = 45 characters). */
    assert_int_equal(
        probe_parse_tcp("[0000:0000:0000:0000:0000:ffff:255.255.255.255]:7", &a), 0);
    assert_v6(&a, "::ffff:255.255.255.255", 7, "0000:0000:0000:0000:0000:ffff:255.255.255.255");
}

/* localhost is the one name: 127.0.0.1, kept as written for the Host: header. */
static void
tcp_localhost_is_loopback(void **state)
{
    struct probe_addr a;
    (void)state;

    fill_sentinel(&a);
    assert_int_equal(probe_parse_tcp("localhost:5432", &a), 0);
    assert_v4(&a, 0x7f000001, 5432, "localhost");
}

static void
tcp_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        ":",
        "127.0.0.1",  /* tcp has no default port */
        "127.0.0.1:", /* nor an empty one */
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:99999",
        "127.0.0.1:000080", /* six digits */
        "127.0.0.1:8o",
        "127.0.0.1:-1",
        "127.0.0.1:+80",
        "127.0.0.1: 80",
        "127.0.0.1:80 ", /* trailing garbage */
        "127.0.0.1:80/",
        "127.0.0.1:80:90",
        " 127.0.0.1:80",
        ":80", /* empty host */
        "[]:80",
        "example.com:80", /* names would need DNS */
        "localhost.localdomain:80",
        "LOCALHOST:80",
        "ip6-localhost:80",
        "256.0.0.1:80",
        "127.1:80",
        "127.0.0.01:80",
        "0x7f.0.0.1:80",
        "[::1]", /* no port */
        "[::1]:",
        "[::1:80", /* missing ']' */
        "[::1",
        "[::1]80",
        "[::1]x8080", /* the byte after ']' must be ':' */
        "[::1]]:80",
        "[::1]:x",
        "[::1]:0",
        "[::1]:65536",
        "[fe80::1%lo]:80", /* no zones */
        "[::g]:80",
        "::1", /* without brackets, the last ':' starts the port: host ":" port 1 */
    };
    struct probe_addr a;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fill_sentinel(&a);
        if (probe_parse_tcp(bad[i], &a) != -EINVAL)
            fail_msg("probe_parse_tcp(\"%s\") is not -EINVAL", bad[i]);
        assert_untouched(&a);
    }
}

/*
 * host[64]: 64 characters or more are refused before the copy (no address is that long, so
 * without the check this would be an overflow that only the sanitizers show).
 */
static void
tcp_rejects_long_host(void **state)
{
    static const size_t lens[] = { 64, 65, 200 };
    char s[300];
    struct probe_addr a;
    (void)state;

    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        memset(s, '1', lens[i]);
        (void)snprintf(s + lens[i], sizeof(s) - lens[i], ":80");
        fill_sentinel(&a);
        assert_int_equal(probe_parse_tcp(s, &a), -EINVAL);
        assert_untouched(&a);
        s[0] = '[';
        memset(s + 1, '1', lens[i]);
        (void)snprintf(s + 1 + lens[i], sizeof(s) - 1 - lens[i], "]:80");
        assert_int_equal(probe_parse_tcp(s, &a), -EINVAL);
        assert_untouched(&a);
    }
}

static void
http_accepts(void **state)
{
    struct probe_addr a;
    char s[300];
    (void)state;

    fill_sentinel(&a);
    assert_int_equal(probe_parse_http("http://127.0.0.1/health", &a), 0);
    assert_v4(&a, 0x7f000001, 80, "127.0.0.1");
    assert_string_equal(a.path, "/health");

    /* No path is "/", with or without a port. */
    fill_sentinel(&a);
    assert_int_equal(probe_parse_http("http://10.0.0.2", &a), 0);
    assert_v4(&a, 0x0a000002, 80, "10.0.0.2");
    assert_string_equal(a.path, "/");
    assert_int_equal(probe_parse_http("http://10.0.0.2:8080", &a), 0);
    assert_v4(&a, 0x0a000002, 8080, "10.0.0.2");
    assert_string_equal(a.path, "/");

    assert_int_equal(probe_parse_http("http://localhost:1/", &a), 0);
    assert_v4(&a, 0x7f000001, 1, "localhost");
    assert_string_equal(a.path, "/");
    assert_int_equal(probe_parse_http("http://localhost:65535/ready", &a), 0);
    assert_v4(&a, 0x7f000001, 65535, "localhost");
    assert_string_equal(a.path, "/ready");

    assert_int_equal(probe_parse_http("http://[::1]/", &a), 0);
    assert_v6(&a, "::1", 80, "::1");
    assert_string_equal(a.path, "/");
    assert_int_equal(probe_parse_http("http://[::1]", &a), 0);
    assert_v6(&a, "::1", 80, "::1");
    assert_string_equal(a.path, "/");
    assert_int_equal(probe_parse_http("http://[2001:db8::1]:8443/a/b?x=1&y=%20#frag", &a), 0);
    assert_v6(&a, "2001:db8::1", 8443, "2001:db8::1");
    assert_string_equal(a.path, "/a/b?x=1&y=%20#frag");

    /* Everything from the first '/' on is the path, ':' and '@' included; bytes above 0x7f pass. */
    assert_int_equal(probe_parse_http("http://127.0.0.1:81//x:9@y/caf\xc3\xa9", &a), 0);
    assert_v4(&a, 0x7f000001, 81, "127.0.0.1");
    assert_string_equal(a.path, "//x:9@y/caf\xc3\xa9");

    /* path[256]: 255 characters fit. */
    memcpy(s, "http://127.0.0.1/", 17);
    memset(s + 17, 'p', 254);
    s[17 + 254] = '\0';
    assert_int_equal(probe_parse_http(s, &a), 0);
    assert_int_equal(strlen(a.path), 255);
    assert_memory_equal(a.path, s + 16, 256);
}

static void
http_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "http://",
        "http:///health",
        "https://127.0.0.1/", /* wrong scheme */
        "HTTP://127.0.0.1/",
        "ftp://127.0.0.1/",
        "http:/127.0.0.1/",
        "http//127.0.0.1/",
        "127.0.0.1:80/",
        " http://127.0.0.1/",
        "http://:80/", /* empty host */
        "http://[]/",
        "http://127.0.0.1:/",
        "http://127.0.0.1:0/",
        "http://127.0.0.1:65536/",
        "http://127.0.0.1:http/",
        "http://127.0.0.1:80x/",
        "http://127.0.0.1 /",
        "http://example.com/", /* names would need DNS */
        "http://localhost.:80/",
        "http://user@127.0.0.1/",
        "http://127.0.0.1?x=1", /* a query needs a path */
        "http://127.0.0.1#f",
        "http://[::1/",  /* missing ']' */
        "http://[::1]x/", /* garbage after ']' */
        "http://[::1]x8080/",
        "http://[::1]:/",
        "http://[::1]:0/",
        "http://::1/",
        /* The path goes into the request line: no space, control character or DEL. */
        "http://127.0.0.1/a b",
        "http://127.0.0.1/a\tb",
        "http://127.0.0.1/a\r\nHost: x",
        "http://127.0.0.1/\n",
        "http://127.0.0.1/\x01",
        "http://127.0.0.1/a\x7f",
    };
    struct probe_addr a;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fill_sentinel(&a);
        if (probe_parse_http(bad[i], &a) != -EINVAL)
            fail_msg("probe_parse_http(\"%s\") is not -EINVAL", bad[i]);
        assert_untouched(&a);
    }
}

static void
http_rejects_long_host_and_path(void **state)
{
    struct probe_addr a;
    char s[700];
    (void)state;

    /* path[256]: 256 characters do not fit, nor anything longer. */
    for (size_t plen = 256; plen < 600; plen += plen < 258 ? 1 : 300) {
        memcpy(s, "http://127.0.0.1/", 17);
        memset(s + 17, 'p', plen - 1);
        s[16 + plen] = '\0';
        assert_int_equal(strlen(s + 16), plen);
        fill_sentinel(&a);
        assert_int_equal(probe_parse_http(s, &a), -EINVAL);
        assert_untouched(&a);
    }
    /* host[64] */
    for (size_t hlen = 64; hlen < 400; hlen += hlen < 66 ? 1 : 300) {
        memcpy(s, "http://", 7);
        memset(s + 7, '1', hlen);
        (void)snprintf(s + 7 + hlen, sizeof(s) - 7 - hlen, ":80/");
        fill_sentinel(&a);
        assert_int_equal(probe_parse_http(s, &a), -EINVAL);
        assert_untouched(&a);
        (void)snprintf(s + 7 + hlen, sizeof(s) - 7 - hlen, "/");
        assert_int_equal(probe_parse_http(s, &a), -EINVAL);
        assert_untouched(&a);
    }
}

static int
status(const char *line)
{
    return probe_parse_status(line, strlen(line));
}

static void
status_lines(void **state)
{
    static const struct {
        const char *line;
        int code;
    } ok[] = {
        { "HTTP/1.1 200 OK", 200 },
        { "HTTP/1.0 302", 302 },
        { "HTTP/1.1 404 Not Found", 404 },
        { "HTTP/1.1 503 Service Unavailable\r\n", 503 },
        { "HTTP/1.1 204\r\n", 204 },
        { "HTTP/1.1 100\r", 100 },
        { "HTTP/1.1 999\n", 999 },
        { "HTTP/1.9 301 ", 301 },
    };
    static const char *const bad[] = {
        "",
        "HTTP/1.1",
        "HTTP/1.1 20",
        "HTTP/1.1 099 Too Low",
        "HTTP/1.1 000",
        "HTTP/1.1 2000",
        "HTTP/1.1 20x OK",
        "HTTP/1.1 -20 OK",
        "HTTP/1.1  200 OK",
        "HTTP/1.1 200OK",
        "HTTP/1.1-200 OK",
        "HTTP/1.1\t200 OK",
        "HTTP/1.1 200\tOK",
        "HTTP/1.x 200 OK",
        "HTTP/1. 200 OK",
        "HTTP/11 200 OK",
        "HTTP/2 200 OK",
        "HTTP/2.0 200 OK",
        "http/1.1 200 OK",
        "xHTTP/1.1 200 OK",
        " HTTP/1.1 200 OK",
        "SSH-2.0-OpenSSH_9.2",
    };
    (void)state;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (status(ok[i].line) != ok[i].code)
            fail_msg("\"%s\" gives %d, not %d", ok[i].line, status(ok[i].line), ok[i].code);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (status(bad[i]) != -EINVAL)
            fail_msg("\"%s\" gives %d, not -EINVAL", bad[i], status(bad[i]));

    /* Only len bytes count: a cut line is no status line, what lies past len is not read. */
    for (size_t len = 0; len < 12; len++)
        assert_int_equal(probe_parse_status("HTTP/1.1 200 OK", len), -EINVAL);
    assert_int_equal(probe_parse_status("HTTP/1.1 200 OK", 12), 200);
    assert_int_equal(probe_parse_status("HTTP/1.1 2000", 12), 200);
    assert_int_equal(probe_parse_status("HTTP/1.1 200x", 12), 200);
    assert_int_equal(probe_parse_status("HTTP/1.1 200x", 13), -EINVAL);
    assert_int_equal(probe_parse_status("HTTP/1.1 200\0OK", 15), -EINVAL);
    assert_int_equal(probe_parse_status("HTTP/1.1 2\0000 OK", 15), -EINVAL);
}

static void
kind_names(void **state)
{
    (void)state;

    assert_string_equal(probe_kind_name(PROBE_NONE), "none");
    assert_string_equal(probe_kind_name(PROBE_TCP), "tcp");
    assert_string_equal(probe_kind_name(PROBE_HTTP), "http");
    assert_string_equal(probe_kind_name(PROBE_COMMAND), "command");
    assert_string_equal(probe_kind_name(PROBE__MAX), "invalid");
    assert_string_equal(probe_kind_name(PROBE_INVALID), "invalid");
    assert_string_equal(probe_kind_name((enum probe_kind)42), "invalid");
}

/* The request's Host header as RFC 7230 writes it: IPv6 in brackets, the port unless 80. */
static void
http_request_host_header(void **state)
{
    static const struct {
        const char *target, *want;
    } cases[] = {
        { "http://127.0.0.1/", "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n" },
        { "http://127.0.0.1:8080/ready?x=1", "GET /ready?x=1 HTTP/1.0\r\nHost: 127.0.0.1:8080\r\n" },
        { "http://localhost:9000", "GET / HTTP/1.0\r\nHost: localhost:9000\r\n" },
        { "http://[::1]:9000/h", "GET /h HTTP/1.0\r\nHost: [::1]:9000\r\n" },
        { "http://[::1]/", "GET / HTTP/1.0\r\nHost: [::1]\r\n" },
    };
    char buf[512];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct probe_addr a;
        int n;

        assert_int_equal(probe_parse_http(cases[i].target, &a), 0);
        n = probe_http_request(&a, buf, sizeof(buf));
        assert_true(n > 0 && (size_t)n == strlen(buf));
        if (strncmp(buf, cases[i].want, strlen(cases[i].want)) != 0)
            fail_msg("%s gave %s", cases[i].target, buf);
        assert_non_null(strstr(buf, "\r\nConnection: close\r\n\r\n"));
    }
    /* Too small a buffer: -ENOSPC, never a cut request. */
    {
        struct probe_addr a;

        assert_int_equal(probe_parse_http("http://127.0.0.1/", &a), 0);
        assert_int_equal(probe_http_request(&a, buf, 20), -ENOSPC);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tcp_accepts_ipv4),
        cmocka_unit_test(tcp_accepts_bracketed_ipv6),
        cmocka_unit_test(tcp_localhost_is_loopback),
        cmocka_unit_test(tcp_rejects),
        cmocka_unit_test(tcp_rejects_long_host),
        cmocka_unit_test(http_accepts),
        cmocka_unit_test(http_rejects),
        cmocka_unit_test(http_rejects_long_host_and_path),
        cmocka_unit_test(status_lines),
        cmocka_unit_test(kind_names),
        cmocka_unit_test(http_request_host_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
