/*
 * ai-dualstack: a stand-in for miniaudio.h, which the Go module zip of Ollama leaves out (it excludes every vendor/
 * directory) and Debian does not package. llama.cpp's multimodal helper (tools/mtmd/mtmd-helper.cpp) uses it only
 * to decode audio inputs; with this header, decoding reports failure and the helper treats the input as not audio.
 * Only the test build of Ollama (scripts/ollama.sh) uses it: text generation, which the tests need, is unaffected.
 */
#ifndef AI_DUALSTACK_MINIAUDIO_STANDIN_H
#define AI_DUALSTACK_MINIAUDIO_STANDIN_H
#include <stddef.h>
#include <stdint.h>

typedef int ma_result;
typedef uint64_t ma_uint64;
typedef uint32_t ma_uint32;
typedef enum { ma_format_unknown = 0, ma_format_f32 = 5 } ma_format;
#define MA_SUCCESS 0
#define MA_NOT_IMPLEMENTED (-29)

typedef struct { ma_format format; ma_uint32 channels; ma_uint32 sampleRate; } ma_decoder_config;
typedef struct { int unused; } ma_decoder;

static inline ma_decoder_config ma_decoder_config_init(ma_format format, ma_uint32 channels, ma_uint32 sampleRate) {
    ma_decoder_config c; c.format = format; c.channels = channels; c.sampleRate = sampleRate; return c;
}
static inline ma_result ma_decoder_init_memory(const void * data, size_t size, const ma_decoder_config * config, ma_decoder * decoder) {
    (void) data; (void) size; (void) config; (void) decoder; return MA_NOT_IMPLEMENTED;
}
static inline ma_result ma_decoder_get_length_in_pcm_frames(ma_decoder * decoder, ma_uint64 * length) {
    (void) decoder; *length = 0; return MA_NOT_IMPLEMENTED;
}
static inline ma_result ma_decoder_read_pcm_frames(ma_decoder * decoder, void * out, ma_uint64 count, ma_uint64 * read) {
    (void) decoder; (void) out; (void) count; *read = 0; return MA_NOT_IMPLEMENTED;
}
static inline ma_result ma_decoder_uninit(ma_decoder * decoder) { (void) decoder; return MA_SUCCESS; }
#endif
