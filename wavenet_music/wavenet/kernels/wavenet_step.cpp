// One WaveNet generation step on the CPU: every layer, the skip sum and the head in one call.
//
// The same computation as IncrementalWaveNet.step in generate.py, for B streams at once:
//
//   h = causal(one-hot taps)                                    queue 0 holds one-hot inputs
//   per layer l:  pre = W_l [h(t - (k-1)d) .. h(t)] + b_l (+ label bias) (+ local frame)
//                 z_l = tanh(pre[:D]) * sigmoid(pre[D:]);  h += W_res z_l + b_res
//   logits = W_2 relu(W_1 relu(W_skip [z_1 .. z_L] + b_skip) + b_1) + b_2
//
// State is explicit: the ring buffers of all causal convolutions end to end in one float
// tensor (queue i is (context_i, B, C_i), the input at time t in slot t % context_i), and
// the time, passed in by the caller. Nothing is kept between calls but scratch memory.
//
// Weights are stored for the product y = x W (x: rows × in) in blocks of kBlock outputs:
// (blocks, in, kBlock), so one block's weights are read front to back, and each weight
// loaded is used for up to kRows rows (streams). float32, bfloat16 or int8 weights (int8
// with a scale per output channel); activations and sums are always float32.
//
// The vectors are GCC/Clang vector extensions as wide as the target's registers: 16 floats
// with AVX-512 (32 registers: a tile of 4 rows × 64 outputs stays in them), else 8 floats
// (AVX2 has 16 registers: tiles of 4 rows × 24 or 16 outputs. A 4 × 64 tile of 8-float
// pairs spilled to the stack there and ran the step at an eighth of the eager one's speed).
//
// A stream's arithmetic does not depend on the thread count: the threads take whole tiles
// of kRows streams (see Stack::step), so the same seed samples the same audio on any count.

#include <torch/extension.h>

#include <ATen/Parallel.h>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

#if defined(__AVX512F__)
constexpr int kLanes = 16;                  // floats per vector
constexpr int kTileVectors = 4;             // vectors per row of a many-row tile
#else
constexpr int kLanes = 8;
constexpr int kTileVectors = 3;             // (then 2 for the rest of a block)
#endif
constexpr int kBlock = 64;                  // outputs per block (BLOCK in compiled.py)
constexpr int kVectors = kBlock / kLanes;   // vectors per block of outputs
constexpr int kRows = 4;                    // rows (streams) sharing each weight load
constexpr int64_t kChunk = 256;             // inputs per pass of many-row tiles (see product)

typedef float vec __attribute__((vector_size(4 * kLanes)));
typedef int32_t ivec __attribute__((vector_size(4 * kLanes)));
typedef uint32_t uvec __attribute__((vector_size(4 * kLanes)));
typedef uint16_t u16vec __attribute__((vector_size(2 * kLanes)));
typedef int8_t i8vec __attribute__((vector_size(kLanes)));

inline vec load(const float* p) {
  vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Widening loads, one instruction each where the target has it (GCC scalarises some
// generic vector conversions); the generic ones serve other targets (e.g. ARM).
#if defined(__AVX512F__)

inline vec load(const at::BFloat16* p) {  // bfloat16 is the top half of a float32
  const __m256i half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return (vec)_mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16));
}

inline vec load(const int8_t* p) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return (vec)_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q));
}

#elif defined(__AVX2__)

inline vec load(const at::BFloat16* p) {
  const __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return (vec)_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16));
}

inline vec load(const int8_t* p) {
  const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return (vec)_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
}

#else

inline vec load(const at::BFloat16* p) {
  u16vec half;
  std::memcpy(&half, p, sizeof half);
  return (vec)(__builtin_convertvector(half, uvec) << 16);
}

inline vec load(const int8_t* p) {
  i8vec q;
  std::memcpy(&q, p, sizeof q);
  return __builtin_convertvector(__builtin_convertvector(q, ivec), vec);
}

#endif

inline void store(float* p, vec v) { std::memcpy(p, &v, sizeof v); }

inline vec splat(float x) { return vec{} + x; }

// exp(x) for float32 within a few ulp (Cody-Waite reduction, degree-6 polynomial).
inline vec exp_lanes(vec x) {
  const vec shifter = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  x = x < -87.0f ? splat(-87.0f) : x;
  x = x > 88.0f ? splat(88.0f) : x;
  const vec t = x * 1.44269504f + shifter;
  const vec n = t - shifter;                                  // round(x / ln 2)
  const vec r = x - n * 0.693359375f + n * 2.12194440e-4f;   // x - n ln 2, |r| <= ln2 / 2
  vec p = 1.9875691500e-4f * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const ivec exponent = ((ivec)t - (ivec)shifter + 127) << 23;  // 2^n
  return p * (vec)exponent;
}

// z = tanh(f) * sigmoid(g), with tanh(f) = 1 - 2 / (1 + e^2f), sigmoid(g) = 1 / (1 + e^-g).
inline vec gated_lanes(vec f, vec g) {
  return (1.0f - 2.0f / (1.0f + exp_lanes(2.0f * f))) / (1.0f + exp_lanes(-g));
}

// z[0:n] = tanh(f[0:n]) * sigmoid(g[0:n]).
void gated(const float* f, const float* g, int64_t n, float* z) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) store(z + i, gated_lanes(load(f + i), load(g + i)));
  if (i == n) return;
  float fs[kLanes] = {}, gs[kLanes] = {}, zs[kLanes];
  std::copy(f + i, f + n, fs);
  std::copy(g + i, g + n, gs);
  store(zs, gated_lanes(load(fs), load(gs)));
  std::copy(zs, zs + (n - i), z + i);
}

void relu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::max(x[i], 0.0f);
}

// A matrix for y = x W + b, blocked as (blocks, in, kBlock); outputs padded to whole blocks.
struct Matrix {
  at::Tensor weight;  // (blocks, in, kBlock): float32, bfloat16 or int8
  at::Tensor scale;   // (blocks · kBlock,) float32 per output channel (int8), else undefined
  at::Tensor bias;    // (blocks · kBlock,) float32, or undefined
  int64_t in = 0;
  int64_t blocks = 0;

  Matrix() = default;
  Matrix(at::Tensor w, c10::optional<at::Tensor> s, c10::optional<at::Tensor> b)
      : weight(w.contiguous()),
        scale(s.has_value() ? s->contiguous() : at::Tensor()),
        bias(b.has_value() ? b->contiguous() : at::Tensor()),
        in(w.size(1)),
        blocks(w.size(0)) {
    TORCH_CHECK(w.dim() == 3 && w.size(2) == kBlock, "weight: expected (blocks, in, ", kBlock, ")");
  }
  int64_t out() const { return blocks * kBlock; }
};

// One block's scale and bias (either may be absent) from output `offset` on.
struct Epilogue {
  const float* scale;
  const float* bias;
  bool add;  // y += result instead of y = result

  Epilogue at(int64_t offset) const {
    return {scale ? scale + offset : nullptr, bias ? bias + offset : nullptr, add};
  }
};

// Writes (or adds) an R × V tile: acc (· scale) (+ bias) into y.
template <int R, int V>
void finish(const vec (&acc)[R][V], const Epilogue& e, float* y, int64_t ldy) {
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < V; ++v) {
      vec out = acc[r][v];
      if (e.scale) out *= load(e.scale + v * kLanes);
      if (e.bias) out += load(e.bias + v * kLanes);
      float* dst = y + r * ldy + v * kLanes;
      if (e.add) out += load(dst);
      store(dst, out);
    }
  }
}

// acc[r] = x[r, 0:in] · w[:, 0:V·kLanes] for R rows: each weight vector loaded once for all
// rows (w: the tile's first column of a block, rows kBlock apart).
template <class T, int R, int V>
void tile(const T* w, int64_t in, const float* x, int64_t ldx, vec (&acc)[R][V]) {
  for (int64_t i = 0; i < in; ++i) {
    vec wv[V];
    for (int v = 0; v < V; ++v) wv[v] = load(w + i * kBlock + v * kLanes);
#if defined(__x86_64__) || defined(__i386__)
    if constexpr (R > 1)  // one load for all rows: GCC would fold it into every row's FMA
      for (int v = 0; v < V; ++v) asm("" : "+x"(wv[v]));
#endif
    for (int r = 0; r < R; ++r) {
      const float xr = x[r * ldx + i];
      for (int v = 0; v < V; ++v) acc[r][v] += xr * wv[v];
    }
  }
}

// acc = x[0:in] · w for one row and a whole block, with 8 sums in flight: the block's 8
// vectors (AVX2), or its 4 vectors over even and odd inputs apart (AVX-512).
template <class T>
void one_row(const T* w, int64_t in, const float* x, vec (&acc)[1][kVectors]) {
  if constexpr (kVectors >= 8) {
    tile<T, 1, kVectors>(w, in, x, 0, acc);
  } else {
    vec odd[kVectors] = {};
    int64_t i = 0;
    for (; i + 1 < in; i += 2) {
      for (int v = 0; v < kVectors; ++v) {
        acc[0][v] += x[i] * load(w + i * kBlock + v * kLanes);
        odd[v] += x[i + 1] * load(w + (i + 1) * kBlock + v * kLanes);
      }
    }
    for (; i < in; ++i)
      for (int v = 0; v < kVectors; ++v) acc[0][v] += x[i] * load(w + i * kBlock + v * kLanes);
    for (int v = 0; v < kVectors; ++v) acc[0][v] += odd[v];
  }
}

// V vectors of y for kRows rows (w, e, y: at the tile's first output).
template <class T, int V>
void rows_tile(const T* w, int64_t in, const float* x, int64_t ldx, const Epilogue& e,
               float* y, int64_t ldy) {
  vec acc[kRows][V] = {};
  tile<T, kRows, V>(w, in, x, ldx, acc);
  finish(acc, e, y, ldy);
}

// One block of y for kRows rows: tiles of kTileVectors vectors, then the rest of the block.
template <class T>
void row_tiles(const T* w, int64_t in, const float* x, int64_t ldx, const Epilogue& e,
               float* y, int64_t ldy) {
  int v = 0;
  for (; v + kTileVectors <= kVectors; v += kTileVectors)
    rows_tile<T, kTileVectors>(w + v * kLanes, in, x, ldx, e.at(v * kLanes), y + v * kLanes, ldy);
  constexpr int kRest = kVectors % kTileVectors;
  if constexpr (kRest > 0)
    rows_tile<T, kRest>(w + v * kLanes, in, x, ldx, e.at(v * kLanes), y + v * kLanes, ldy);
}

// y[r, 0:out] = x[r, 0:in] · W (+ b) for rows r < rows (or y += that, with add): tiles of
// kRows rows over kChunk inputs at a time (the chunk's weights stay in the L2 cache while
// every tile of rows uses them), then the last rows % kRows one at a time over all inputs.
template <class T>
void product(const Matrix& m, const float* x, int64_t ldx, int64_t rows, float* y, int64_t ldy,
             bool add) {
  const T* weights = m.weight.data_ptr<T>();
  const float* scales = m.scale.defined() ? m.scale.data_ptr<float>() : nullptr;
  const float* biases = m.bias.defined() ? m.bias.data_ptr<float>() : nullptr;
  const int64_t tiled = rows / kRows * kRows;
  for (int64_t block = 0; block < m.blocks; ++block) {
    const T* w = weights + block * m.in * kBlock;
    const Epilogue e = Epilogue{scales, biases, add}.at(block * kBlock);
    float* yb = y + block * kBlock;
    for (int64_t k0 = 0; k0 < m.in && tiled > 0; k0 += kChunk) {
      const int64_t k = std::min(kChunk, m.in - k0);
      const Epilogue ek = k0 == 0 ? e : Epilogue{e.scale, nullptr, true};  // adds to chunk 0
      for (int64_t r = 0; r < tiled; r += kRows)
        row_tiles(w + k0 * kBlock, k, x + r * ldx + k0, ldx, ek, yb + r * ldy, ldy);
    }
    for (int64_t r = tiled; r < rows; ++r) {
      vec acc[1][kVectors] = {};
      one_row(w, m.in, x + r * ldx, acc);
      finish(acc, e, yb + r * ldy, ldy);
    }
  }
}

void multiply(const Matrix& m, const float* x, int64_t ldx, int64_t rows, float* y, int64_t ldy,
              bool add) {
  switch (m.weight.scalar_type()) {
    case at::kFloat: return product<float>(m, x, ldx, rows, y, ldy, add);
    case at::kBFloat16: return product<at::BFloat16>(m, x, ldx, rows, y, ldy, add);
    case at::kChar: return product<int8_t>(m, x, ldx, rows, y, ldy, add);
    default: TORCH_CHECK(false, "weights: expected float32, bfloat16 or int8");
  }
}

// Per-thread scratch memory, kept between calls (no allocation per step).
struct Scratch {
  std::vector<float> h, taps, pre, z, skip, hidden, logits;
};

// The inputs of one step, shared by the threads (each takes a range of streams).
struct StepArgs {
  const int64_t* x;          // (B,) classes fed at `time`
  float* queues;             // all ring buffers, end to end
  int64_t batch, time, frame;
  const float* label_bias;   // (L, B, 2D) or nullptr
  const float* local;        // (L, B, K, 2D) or nullptr
  int64_t frames;            // K
  float* logits;             // (B, Q)
  const float* heard;        // (B, E): the excitation of the sample fed, or nullptr
  const float* heard_weight; // (L, E, 2D): every layer's U_l
  int64_t channels;          // E
};

// The draw of `sample` (below) for rows (B, classes) of logits, into out (B,): the
// arguments as there, as pointers (nullptr where absent), checked by the callers.
void draw_rows(const float* logits, int64_t rows, int64_t classes, const double* u,
               double temperature, const double* floors, const float* inverses,
               const int64_t* previous, const int64_t* lows, const int64_t* highs,
               int64_t* out) {
  const int64_t padded = (classes + kLanes - 1) / kLanes * kLanes;
  const float scale = static_cast<float>(1.0 / temperature);
  std::vector<float> row(padded), weights(padded);
  std::vector<double> cumulative(classes);
  for (int64_t b = 0; b < rows; ++b) {
    std::copy_n(logits + b * classes, classes, row.begin());
    int64_t first = 0, last = classes - 1;  // the classes it may draw
    if (previous) {
      const int64_t k = previous[b];
      TORCH_CHECK(k >= 0 && k < classes, "previous class ", k, " outside 0..", classes - 1);
      first = lows[k];
      last = highs[k];
      TORCH_CHECK(0 <= first && first <= k && k <= last && last < classes,
                  "low, high: class ", k, " must lie in its own interval");
    }
    if (inverses) {
      const float by = inverses[b];
      for (int64_t c = first; c <= last; ++c) row[c] *= by;
    }
    const float top = *std::max_element(row.begin() + first, row.begin() + last + 1);
    for (int64_t c = 0; c < padded; c += kLanes)
      store(&weights[c], exp_lanes((load(&row[c]) - top) * scale));
    std::fill(weights.begin(), weights.begin() + first, 0.0f);
    std::fill(weights.begin() + last + 1, weights.begin() + classes, 0.0f);
    double sum = 0.0;
    for (int64_t c = 0; c < classes; ++c) cumulative[c] = sum += weights[c];
    TORCH_CHECK(std::isfinite(sum), "logits hold NaN or infinity: nothing to sample from");
    const double cut = floors ? floors[b] * sum : 0.0;
    if (cut > 0) {  // p - floor in the weights' scale, the rest renormalised by its sum
      sum = 0.0;
      for (int64_t c = 0; c < classes; ++c)
        cumulative[c] = sum += std::max(static_cast<double>(weights[c]) - cut, 0.0);
    }
    const auto drawn = std::upper_bound(cumulative.begin(), cumulative.end(), u[b] * sum);
    out[b] = std::min<int64_t>(drawn - cumulative.begin(), classes - 1);
  }
}

class Stack {
 public:
  Stack(int64_t classes, int64_t residual, int64_t dilation, int64_t taps,
        std::vector<int64_t> dilations, at::Tensor causal, c10::optional<at::Tensor> causal_bias,
        std::vector<Matrix> filter_gate, std::vector<Matrix> residual_mats, Matrix skip_mat,
        Matrix head1, Matrix head2)
      : q_(classes), r_(residual), d_(dilation), taps_(taps),
        dilations_(std::move(dilations)), causal_(causal.contiguous()),
        causal_bias_(causal_bias.has_value() ? causal_bias->contiguous() : at::Tensor()),
        filter_gate_(std::move(filter_gate)), residual_(std::move(residual_mats)),
        skip_(std::move(skip_mat)), head1_(std::move(head1)), head2_(std::move(head2)) {
    TORCH_CHECK(causal_.dim() == 2 && causal_.size(0) == taps_ * q_, "causal: (taps·Q, R_pad)");
    TORCH_CHECK(filter_gate_.size() == dilations_.size() && residual_.size() == dilations_.size(),
                "one filter/gate and one residual matrix per dilation");
  }

  // Floats of all queues for `batch` streams: Σ_i context_i · batch · C_i.
  int64_t queue_size(int64_t batch) const {
    int64_t size = (taps_ - 1) * batch * q_;
    for (int64_t d : dilations_) size += (taps_ - 1) * d * batch * r_;
    return size;
  }

  at::Tensor step(at::Tensor x, at::Tensor queues, int64_t time,
                  c10::optional<at::Tensor> label_bias, c10::optional<at::Tensor> local,
                  int64_t frame, c10::optional<at::Tensor> heard,
                  c10::optional<at::Tensor> heard_weight) const {
    TORCH_CHECK(x.dim() == 1 && x.scalar_type() == at::kLong, "x: expected (B,) int64");
    const int64_t batch = x.size(0);
    TORCH_CHECK(queues.is_contiguous() && queues.scalar_type() == at::kFloat &&
                    queues.numel() == queue_size(batch),
                "queues: expected ", queue_size(batch), " contiguous float32 values");
    x = x.contiguous();
    at::Tensor logits = at::empty({batch, q_}, queues.options());
    StepArgs args{x.data_ptr<int64_t>(), queues.data_ptr<float>(), batch, time, frame,
                  nullptr, nullptr, 0, logits.data_ptr<float>(), nullptr, nullptr, 0};
    at::Tensor lb, lc, he, hw;
    if (heard.has_value()) {
      TORCH_CHECK(heard_weight.has_value(), "heard: needs heard_weight");
      he = heard->contiguous();
      hw = heard_weight->contiguous();
      TORCH_CHECK(he.dim() == 2 && he.size(0) == batch && he.scalar_type() == at::kFloat,
                  "heard: expected (B, E) float32");
      TORCH_CHECK(hw.dim() == 3 && hw.size(0) == layers() && hw.size(1) == he.size(1) &&
                      hw.size(2) == 2 * d_ &&
                      hw.scalar_type() == at::kFloat,
                  "heard_weight: expected (L, E, 2D) float32");
      args.heard = he.data_ptr<float>();
      args.heard_weight = hw.data_ptr<float>();
      args.channels = he.size(1);
    }
    conditioning(label_bias, local, args, lb, lc);
    TORCH_CHECK(!args.local || (frame >= 0 && frame < args.frames), "frame ", frame,
                " outside local frames");
    compute(args);
    return logits;
  }

  // `steps` samples in one call, each the step and then the draw of `sample` (the same
  // arithmetic as a call of each a sample, without a return to Python between samples):
  // x (B,) int64, the classes fed at `time`, is overwritten with each drawn sample's and
  // the drawn classes go to columns column .. column + steps - 1 of out (B, N) int64. Row s
  // of u (≥ steps, B) float64, floors (≥ steps, B) float64 and inverses (≥ steps, B[, 1])
  // float32 is sample s's; the local frame of the sample fed at t is (local_origin + t) /
  // hop, its notes heard excitation[local_origin + t] (T, B, E) float32.
  void run(at::Tensor x, at::Tensor queues, int64_t time, int64_t steps,
           c10::optional<at::Tensor> label_bias, c10::optional<at::Tensor> local,
           int64_t local_origin, int64_t hop, c10::optional<at::Tensor> excitation,
           c10::optional<at::Tensor> heard_weight, double temperature, at::Tensor u,
           c10::optional<at::Tensor> floors, c10::optional<at::Tensor> inverses,
           c10::optional<at::Tensor> low, c10::optional<at::Tensor> high, at::Tensor out,
           int64_t column) const {
    TORCH_CHECK(x.dim() == 1 && x.scalar_type() == at::kLong && x.is_contiguous(),
                "x: expected contiguous (B,) int64");
    const int64_t batch = x.size(0), last = local_origin + time + steps - 1;
    TORCH_CHECK(steps >= 1 && time >= 0 && local_origin >= 0 && hop >= 1, "steps, time, hop");
    TORCH_CHECK(queues.is_contiguous() && queues.scalar_type() == at::kFloat &&
                    queues.numel() == queue_size(batch),
                "queues: expected ", queue_size(batch), " contiguous float32 values");
    TORCH_CHECK(out.dim() == 2 && out.size(0) == batch && out.scalar_type() == at::kLong &&
                    out.is_contiguous() && column >= 0 && column + steps <= out.size(1),
                "out: expected contiguous (B, >= column + steps) int64");
    TORCH_CHECK(temperature > 0, "temperature: expected > 0");
    TORCH_CHECK(rows_of(u, at::kDouble, steps, batch), "u: expected (steps, B) float64");
    TORCH_CHECK(!floors || rows_of(*floors, at::kDouble, steps, batch),
                "floors: expected (steps, B) float64");
    TORCH_CHECK(!inverses || rows_of(*inverses, at::kFloat, steps, batch),
                "inverses: expected (steps, B) float32");
    TORCH_CHECK(low.has_value() == high.has_value(), "low and high: both or neither");
    TORCH_CHECK(!low || (low->numel() == q_ && high->numel() == q_ &&
                         low->scalar_type() == at::kLong && high->scalar_type() == at::kLong &&
                         low->is_contiguous() && high->is_contiguous()),
                "low, high: expected (Q,) int64");
    at::Tensor logits = at::empty({batch, q_}, queues.options());
    StepArgs args{x.data_ptr<int64_t>(), queues.data_ptr<float>(), batch, time, 0,
                  nullptr, nullptr, 0, logits.data_ptr<float>(), nullptr, nullptr, 0};
    at::Tensor lb, lc, ex, hw;
    conditioning(label_bias, local, args, lb, lc);
    TORCH_CHECK(!args.local || last / hop < args.frames, "frame ", last / hop,
                " outside local frames");
    if (excitation.has_value()) {
      TORCH_CHECK(heard_weight.has_value(), "excitation: needs heard_weight");
      ex = excitation->contiguous();
      hw = heard_weight->contiguous();
      TORCH_CHECK(ex.dim() == 3 && ex.size(0) > last && ex.size(1) == batch &&
                      ex.scalar_type() == at::kFloat,
                  "excitation: expected (T > ", last, ", B, E) float32");
      TORCH_CHECK(hw.dim() == 3 && hw.size(0) == layers() && hw.size(1) == ex.size(2) &&
                      hw.size(2) == 2 * d_ && hw.scalar_type() == at::kFloat,
                  "heard_weight: expected (L, E, 2D) float32");
      args.heard_weight = hw.data_ptr<float>();
      args.channels = ex.size(2);
    }
    int64_t* fed = x.data_ptr<int64_t>();
    int64_t* written = out.data_ptr<int64_t>();
    std::vector<int64_t> drawn(batch);
    for (int64_t s = 0; s < steps; ++s) {
      args.time = time + s;
      const int64_t position = local_origin + args.time;  // of the sample fed
      if (args.local) args.frame = position / hop;
      if (ex.defined()) args.heard = ex.data_ptr<float>() + position * batch * args.channels;
      compute(args);
      draw_rows(args.logits, batch, q_, u.data_ptr<double>() + s * batch, temperature,
                floors ? floors->data_ptr<double>() + s * batch : nullptr,
                inverses ? inverses->data_ptr<float>() + s * batch : nullptr,
                low ? fed : nullptr, low ? low->data_ptr<int64_t>() : nullptr,
                high ? high->data_ptr<int64_t>() : nullptr, drawn.data());
      for (int64_t b = 0; b < batch; ++b) {
        fed[b] = drawn[b];
        written[b * out.size(1) + column + s] = drawn[b];
      }
    }
  }

 private:
  int64_t layers() const { return static_cast<int64_t>(dilations_.size()); }

  // args' label bias (L, B, 2D) and local frames (L, B, K, 2D) where given, kept alive in
  // lb and lc.
  static void conditioning(const c10::optional<at::Tensor>& label_bias,
                           const c10::optional<at::Tensor>& local, StepArgs& args,
                           at::Tensor& lb, at::Tensor& lc) {
    if (label_bias.has_value()) {
      lb = label_bias->contiguous();
      args.label_bias = lb.data_ptr<float>();
    }
    if (local.has_value()) {
      lc = local->contiguous();
      args.local = lc.data_ptr<float>();
      args.frames = lc.size(2);
    }
  }

  static bool rows_of(const at::Tensor& t, at::ScalarType type, int64_t steps, int64_t batch) {
    return t.scalar_type() == type && t.is_contiguous() && t.dim() >= 2 && t.size(0) >= steps &&
           t.size(1) == batch && t.numel() == t.size(0) * batch;
  }

  // One step of every stream, the threads taking whole tiles of kRows streams (the rows %
  // kRows left over go last, one at a time, as on one thread), so the thread count never
  // changes a stream's rounding.
  void compute(const StepArgs& args) const {
    const int64_t batch = args.batch;
    const int64_t threads = at::get_num_threads();
    const int64_t per_task = (batch + threads * kRows - 1) / (threads * kRows) * kRows;
    const int64_t tasks = (batch + per_task - 1) / per_task;
    at::parallel_for(0, tasks, 1, [&](int64_t first, int64_t last) {
      thread_local Scratch scratch;
      for (int64_t task = first; task < last; ++task)
        streams(args, task * per_task, std::min(batch, (task + 1) * per_task), scratch);
    });
  }

  // Streams [b0, b1) through the whole stack.
  void streams(const StepArgs& a, int64_t b0, int64_t b1, Scratch& s) const {
    const int64_t rows = b1 - b0, rp = residual_[0].out(), gp = filter_gate_[0].out();
    const int64_t zs = layers() * d_;  // row length of all layers' gated outputs
    s.h.assign(rows * rp, 0.0f);
    s.taps.resize(rows * taps_ * r_);
    s.pre.resize(rows * gp);
    s.z.resize(rows * zs);
    s.skip.resize(rows * skip_.out());
    s.hidden.resize(rows * head1_.out());
    s.logits.resize(rows * head2_.out());
    float* queue = a.queues;
    causal(a, b0, rows, queue, s.h.data(), rp);
    queue += (taps_ - 1) * a.batch * q_;
    for (int64_t l = 0; l < layers(); ++l) {
      const int64_t context = (taps_ - 1) * dilations_[l];
      gather(queue, context, dilations_[l], a, b0, rows, s.h.data(), rp, s.taps.data());
      multiply(filter_gate_[l], s.taps.data(), taps_ * r_, rows, s.pre.data(), gp, false);
      condition(a, l, b0, rows, s.pre.data(), gp);
      for (int64_t r = 0; r < rows; ++r) {
        const float* pre = s.pre.data() + r * gp;
        gated(pre, pre + d_, d_, s.z.data() + r * zs + l * d_);
      }
      if (l + 1 < layers())  // the last layer's residual output is never used
        multiply(residual_[l], s.z.data() + l * d_, zs, rows, s.h.data(), rp, true);
      queue += context * a.batch * r_;
    }
    head(s, rows, zs);
    for (int64_t r = 0; r < rows; ++r)
      std::copy_n(s.logits.data() + r * head2_.out(), q_, a.logits + (b0 + r) * q_);
  }

  // h = causal convolution of the one-hot taps; pushes one-hot(x) into queue 0.
  void causal(const StepArgs& a, int64_t b0, int64_t rows, float* queue, float* h,
              int64_t rp) const {
    const float* w = causal_.data_ptr<float>();
    const int64_t wp = causal_.size(1), context = taps_ - 1;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t b = b0 + r;
      float* hr = h + r * rp;
      if (causal_bias_.defined()) std::copy_n(causal_bias_.data_ptr<float>(), r_, hr);
      auto add_row = [&](int64_t row, float weight) {
        for (int64_t c = 0; c < r_; ++c) hr[c] += weight * w[row * wp + c];
      };
      for (int64_t k = taps_ - 1; k >= 1; --k) {  // oldest tap first, as in the weight rows
        const int64_t slot = ((a.time - k) % context + context) % context;
        const float* past = queue + (slot * a.batch + b) * q_;
        for (int64_t c = 0; c < q_; ++c)
          if (past[c] != 0.0f) add_row((taps_ - 1 - k) * q_ + c, past[c]);
      }
      add_row((taps_ - 1) * q_ + a.x[b], 1.0f);
    }
    for (int64_t r = 0; r < rows; ++r) {  // every tap is read: now push x
      float* slot = queue + ((a.time % context) * a.batch + b0 + r) * q_;
      std::fill_n(slot, q_, 0.0f);
      slot[a.x[b0 + r]] = 1.0f;
    }
  }

  // taps = [h(t - (k-1)d) .. h(t - d), h(t)] per row, oldest first; then pushes h(t).
  void gather(float* queue, int64_t context, int64_t dilation, const StepArgs& a, int64_t b0,
              int64_t rows, const float* h, int64_t rp, float* taps) const {
    for (int64_t r = 0; r < rows; ++r) {
      float* row = taps + r * taps_ * r_;
      for (int64_t k = taps_ - 1; k >= 1; --k) {
        const int64_t slot = ((a.time - k * dilation) % context + context) % context;
        std::copy_n(queue + (slot * a.batch + b0 + r) * r_, r_, row + (taps_ - 1 - k) * r_);
      }
      std::copy_n(h + r * rp, r_, row + (taps_ - 1) * r_);
      std::copy_n(h + r * rp, r_, queue + ((a.time % context) * a.batch + b0 + r) * r_);
    }
  }

  // pre += layer l's label bias V·h, local-conditioning frame and U_l e(t), where given.
  void condition(const StepArgs& a, int64_t l, int64_t b0, int64_t rows, float* pre,
                 int64_t gp) const {
    const int64_t width = 2 * d_;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t b = b0 + r;
      float* p = pre + r * gp;
      if (a.label_bias) {
        const float* v = a.label_bias + (l * a.batch + b) * width;
        for (int64_t c = 0; c < width; ++c) p[c] += v[c];
      }
      if (a.local) {
        const float* v = a.local + ((l * a.batch + b) * a.frames + a.frame) * width;
        for (int64_t c = 0; c < width; ++c) p[c] += v[c];
      }
      if (a.heard) {  // the notes heard at audio rate: E multiply-adds per channel
        const float* e = a.heard + b * a.channels;
        const float* u = a.heard_weight + l * a.channels * width;
        for (int64_t k = 0; k < a.channels; ++k) {
          const float ek = e[k];
          for (int64_t c = 0; c < width; ++c) p[c] += ek * u[k * width + c];
        }
      }
    }
  }

  // logits = W_2 relu(W_1 relu(W_skip z + b_skip) + b_1) + b_2.
  void head(Scratch& s, int64_t rows, int64_t zs) const {
    const int64_t sp = skip_.out(), hp = head1_.out();
    multiply(skip_, s.z.data(), zs, rows, s.skip.data(), sp, false);
    relu(s.skip.data(), rows * sp);
    multiply(head1_, s.skip.data(), sp, rows, s.hidden.data(), hp, false);
    relu(s.hidden.data(), rows * hp);
    multiply(head2_, s.hidden.data(), hp, rows, s.logits.data(), head2_.out(), false);
  }

  int64_t q_, r_, d_, taps_;
  std::vector<int64_t> dilations_;
  at::Tensor causal_, causal_bias_;
  std::vector<Matrix> filter_gate_, residual_;
  Matrix skip_, head1_, head2_;
};

// classes (B,) drawn from softmax(logits / temperature) (B, Q) at uniform numbers u (B,) in
// [0, 1): the first class whose cumulative sum exceeds u · the row's sum, as generate.sample
// does with 6 torch operations (which took longer than a step of 8 streams). The weights
// e^((l - max) / T) are float32 vectors (exp_lanes), their sums float64. With floor (B,)
// float64, row b draws from max(p - floor_b, 0) renormalised (incremental.sample).
//
// What generate applied to the logits in torch before (one call a step less each, and
// exactly its arithmetic): with inverse (B,) float32, row b's logits are first multiplied
// by inverse_b (a temperature per sample: generate.tempered); with previous (B,) int64 and
// low, high (Q,) int64, row b draws only from the classes low[k] .. high[k] of its previous
// class k (the jump limit: generate.JumpLimit; the others weigh 0, as e^-inf does).
at::Tensor sample(at::Tensor logits, at::Tensor u, double temperature,
                  c10::optional<at::Tensor> floor, c10::optional<at::Tensor> inverse,
                  c10::optional<at::Tensor> previous, c10::optional<at::Tensor> low,
                  c10::optional<at::Tensor> high) {
  TORCH_CHECK(logits.dim() == 2 && logits.scalar_type() == at::kFloat, "logits: (B, Q) float32");
  const int64_t rows = logits.size(0), classes = logits.size(1);
  TORCH_CHECK(u.dim() == 1 && u.size(0) == rows && u.scalar_type() == at::kDouble,
              "u: expected (B,) float64");
  TORCH_CHECK(temperature > 0, "temperature: expected > 0");
  TORCH_CHECK(!floor || (floor->dim() == 1 && floor->size(0) == rows &&
                         floor->scalar_type() == at::kDouble),
              "floor: expected (B,) float64");
  TORCH_CHECK(!inverse || (inverse->numel() == rows && inverse->scalar_type() == at::kFloat),
              "inverse: expected B float32 values");
  TORCH_CHECK(previous.has_value() == low.has_value() && low.has_value() == high.has_value(),
              "previous, low and high: all or none");
  at::Tensor before, lows, highs;
  if (previous) {
    before = previous->contiguous();
    lows = low->contiguous();
    highs = high->contiguous();
    TORCH_CHECK(before.dim() == 1 && before.size(0) == rows && before.scalar_type() == at::kLong,
                "previous: expected (B,) int64");
    TORCH_CHECK(lows.numel() == classes && highs.numel() == classes &&
                    lows.scalar_type() == at::kLong && highs.scalar_type() == at::kLong,
                "low, high: expected (Q,) int64");
  }
  logits = logits.contiguous();
  at::Tensor floors = floor ? floor->contiguous() : at::Tensor();
  at::Tensor inverses = inverse ? inverse->contiguous() : at::Tensor();
  u = u.contiguous();
  at::Tensor out = at::empty({rows}, logits.options().dtype(at::kLong));
  draw_rows(logits.data_ptr<float>(), rows, classes, u.data_ptr<double>(), temperature,
            floors.defined() ? floors.data_ptr<double>() : nullptr,
            inverses.defined() ? inverses.data_ptr<float>() : nullptr,
            before.defined() ? before.data_ptr<int64_t>() : nullptr,
            lows.defined() ? lows.data_ptr<int64_t>() : nullptr,
            highs.defined() ? highs.data_ptr<int64_t>() : nullptr, out.data_ptr<int64_t>());
  return out;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("sample", &sample, pybind11::arg("logits"), pybind11::arg("u"),
        pybind11::arg("temperature"), pybind11::arg("floor") = pybind11::none(),
        pybind11::arg("inverse") = pybind11::none(), pybind11::arg("previous") = pybind11::none(),
        pybind11::arg("low") = pybind11::none(), pybind11::arg("high") = pybind11::none());
  m.attr("BLOCK") = kBlock;
  pybind11::class_<Matrix>(m, "Matrix")
      .def(pybind11::init<at::Tensor, c10::optional<at::Tensor>, c10::optional<at::Tensor>>(),
           pybind11::arg("weight"), pybind11::arg("scale"), pybind11::arg("bias"));
  pybind11::class_<Stack>(m, "Stack")
      .def(pybind11::init<int64_t, int64_t, int64_t, int64_t, std::vector<int64_t>,
                          at::Tensor, c10::optional<at::Tensor>, std::vector<Matrix>,
                          std::vector<Matrix>, Matrix, Matrix, Matrix>())
      .def("queue_size", &Stack::queue_size)
      .def("step", &Stack::step, pybind11::arg("x"), pybind11::arg("queues"),
           pybind11::arg("time"), pybind11::arg("label_bias"), pybind11::arg("local"),
           pybind11::arg("frame"), pybind11::arg("heard") = pybind11::none(),
           pybind11::arg("heard_weight") = pybind11::none())
      .def("run", &Stack::run, pybind11::arg("x"), pybind11::arg("queues"),
           pybind11::arg("time"), pybind11::arg("steps"), pybind11::arg("label_bias"),
           pybind11::arg("local"), pybind11::arg("local_origin"), pybind11::arg("hop"),
           pybind11::arg("excitation"), pybind11::arg("heard_weight"),
           pybind11::arg("temperature"), pybind11::arg("u"), pybind11::arg("floors"),
           pybind11::arg("inverses"), pybind11::arg("low"), pybind11::arg("high"),
           pybind11::arg("out"), pybind11::arg("column"));
}
