// <immintrin.h> for the files built with AVX-512 flags. GCC 12 flags _mm512_undefined_* inside its own intrinsics as
// (maybe-)uninitialized (GCC bug 105593); the warnings point into the intrinsic headers, so silencing them around this
// one include leaves arq's own code fully checked (-Wall -Wextra -Werror).
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
