/*
 * LD_PRELOAD-ed after atheris's asan_with_fuzzer.so in the coverage build (s2n_bridge/coverage.py).
 *
 * libFuzzer finds a custom mutator through a weak reference to LLVMFuzzerCustomMutator, bound
 * when the library holding libFuzzer is loaded. Preloaded, that is before Python starts, so the
 * definition atheris loads later (its custom_mutator module, RTLD_GLOBAL) is never seen and the
 * Python mutator is silently ignored. This file gives the weak reference a definition that is
 * there from the start and forwards, at call time, to the next definition in the search order:
 * atheris's, once atheris.Fuzz has loaded it; libFuzzer's own mutations until then.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

typedef size_t (*tlsdiff_mutator)(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    static tlsdiff_mutator python_mutator;
    if (python_mutator == NULL) {
        python_mutator = (tlsdiff_mutator) dlsym(RTLD_NEXT, "LLVMFuzzerCustomMutator");
    }
    if (python_mutator != NULL) {
        return python_mutator(data, size, max_size, seed);
    }
    return LLVMFuzzerMutate(data, size, max_size);
}
