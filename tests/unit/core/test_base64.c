/*
 * test_base64: RFC 4648's test vectors both ways, every byte value round
 * trip, and each malformed input refused (length, alphabet, padding in the
 * middle or where none is needed, non-zero unused bits).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/base64.h"

static void
rfc4648_vectors(void **state)
{
    static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const coded[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                         "Zm9vYmFy" };
    char out[32];
    uint8_t back[32];
    (void)state;

    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(base64_encoded_len(strlen(plain[i])), strlen(coded[i]));
        base64_encode(plain[i], strlen(plain[i]), out);
        assert_string_equal(out, coded[i]);
        assert_int_equal(base64_decode(coded[i], strlen(coded[i]), back), strlen(plain[i]));
        assert_memory_equal(back, plain[i], strlen(plain[i]));
    }
}

static void
every_byte_round_trips(void **state)
{
    uint8_t in[256], back[256];
    char out[400];
    (void)state;

    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)i;
    for (size_t n = 0; n <= 256; n++) {
        base64_encode(in, n, out);
        assert_int_equal(strlen(out), base64_encoded_len(n));
        assert_int_equal(base64_decode(out, strlen(out), back), (long)n);
        assert_memory_equal(back, in, n);
    }
}

static void
malformed_is_refused(void **state)
{
    static const char *const bad[] = {
        "Zg=", "Zg", "Z===", "====", "Zg==Zg==", "Zm9v=", "Zm 9", "Zm9\n", "Zm-v", "Zm_v",
        "Zh==", /* unused bits set: "Zg==" is the one spelling of "f" */
        "Zm9=", /* same for two bytes: "Zm8=" */
        "Z=g=",
    };
    uint8_t back[16];
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (base64_decode(bad[i], strlen(bad[i]), back) != -1)
            print_error("accepted \"%s\"\n", bad[i]);
        assert_int_equal(base64_decode(bad[i], strlen(bad[i]), back), -1);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc4648_vectors),
        cmocka_unit_test(every_byte_round_trips),
        cmocka_unit_test(malformed_is_refused),
    };

    return cmocka_run_group_tests_name("base64", tests, NULL, NULL);
}
