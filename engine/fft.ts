/**
 * Mixed-radix FFT for the log-mel front end.
 *
 * Whisper's STFT size is N_FFT = 400 = 2^4 * 5^2, which is not a power of two, so a radix-2 FFT cannot
 * be used and a naive DFT (400^2 complex MACs per frame, 3000 frames per window) is far too slow.
 * This is a Stockham auto-sort, decimation-in-frequency Cooley–Tukey FFT: each stage splits the
 * current sub-transforms by one radix, so it handles any composite size, needs no bit-reversal
 * permutation (hard to define for mixed radices), and reads/writes with unit stride in its inner loop.
 * Radices 2, 4, 5 and 8 have hand-written butterflies; any other prime factor falls back to a naive
 * DFT of that (small) radix.
 *
 * Everything is precomputed per size in the constructor (factorisation, twiddles, scratch buffers),
 * so a transform allocates nothing. Instances are therefore NOT re-entrant: use one per thread/worker.
 *
 * Browser-safe: no Node imports.
 */

/** Twiddle sign convention: forward transform X[k] = sum_t x[t] * exp(-2*pi*i*t*k/N), like numpy.fft. */
const TWO_PI = 2 * Math.PI;

/**
 * Radices with a dedicated butterfly, tried in this order when factorising (radix 8, then 4 first: fewer stages,
 * each a pass over the whole array, and their cores need few multiplies). Other primes, 3 included, use the
 * naive-DFT butterfly. Whisper's 400-point frame packs into a 200-point transform: 8 x 5 x 5, three stages
 * (4 x 2 x 5 x 5 took four, and the log-mel ~10 % longer).
 */
const DEDICATED_RADICES: readonly number[] = [8, 4, 2, 5];

/** 1/sqrt(2): the real and imaginary size of the radix-8 butterfly's odd roots exp(-i*pi/4 * (2j+1)). */
const SQRT1_2 = Math.SQRT1_2;

/** cos/sin of 2*pi/5 and 4*pi/5: the constants of the radix-5 butterfly. */
const C5_1 = Math.cos(TWO_PI / 5);
const C5_2 = Math.cos((2 * TWO_PI) / 5);
const S5_1 = Math.sin(TWO_PI / 5);
const S5_2 = Math.sin((2 * TWO_PI) / 5);

/** One Stockham stage: radix-`radix` butterflies over `span`-point sub-transforms, `stride` of them interleaved. */
interface Stage {
  /** Radix r of this stage. */
  readonly radix: number;
  /** Length n of each sub-transform entering this stage (n = radix * m). */
  readonly span: number;
  /** m = span / radix: length of each sub-transform this stage produces. */
  readonly m: number;
  /** Number of interleaved sub-transforms (product of the radices of the earlier stages). */
  readonly stride: number;
  /** Real parts of exp(-2*pi*i*p*k/span), laid out [m, radix] row-major (index p*radix + k). */
  readonly twRe: Float64Array;
  /** Imaginary parts, same layout as `twRe`. */
  readonly twIm: Float64Array;
}

/**
 * Factorises n into the radices the stages will use: 4s, then 2, 5, then any remaining primes in
 * increasing order (these get the naive-DFT butterfly).
 */
function factorise(n: number): number[] {
  const factors: number[] = [];
  let rest = n;
  for (const radix of DEDICATED_RADICES) {
    while (rest % radix === 0) {
      factors.push(radix);
      rest /= radix;
    }
  }
  for (let p = 3; rest > 1; p += 2) {
    while (rest % p === 0) {
      factors.push(p);
      rest /= p;
    }
    // Past sqrt(rest) the remainder is itself prime.
    if (p * p > rest && rest > 1) {
      factors.push(rest);
      rest = 1;
    }
  }
  return factors;
}

/**
 * In-place complex FFT of a fixed size N (any positive integer; fastest when N has only factors 2 and 5).
 *
 * Shapes: `re`, `im` are Float64Array[N], natural order in and out; the transform is unnormalised
 * (forward, like numpy.fft.fft).
 */
export class ComplexFft {
  /** Transform length N. */
  readonly size: number;
  private readonly stages: Stage[];
  /** Ping-pong buffers for the Stockham stages, [N] each. */
  private readonly workRe: Float64Array;
  private readonly workIm: Float64Array;
  /** Scratch for the generic (naive DFT) butterfly, [maxRadix] each. */
  private readonly genRe: Float64Array;
  private readonly genIm: Float64Array;
  /** exp(-2*pi*i*j/r) for the generic butterfly, keyed by radix r, [r] each. */
  private readonly rootsRe = new Map<number, Float64Array>();
  private readonly rootsIm = new Map<number, Float64Array>();

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`FFT size must be a positive integer, got ${size}`);
    }
    this.size = size;
    this.workRe = new Float64Array(size);
    this.workIm = new Float64Array(size);

    const stages: Stage[] = [];
    let span = size;
    let stride = 1;
    let maxRadix = 1;
    for (const radix of factorise(size)) {
      const m = span / radix;
      const twRe = new Float64Array(m * radix);
      const twIm = new Float64Array(m * radix);
      for (let p = 0; p < m; p++) {
        for (let k = 0; k < radix; k++) {
          const angle = (-TWO_PI * p * k) / span;
          twRe[p * radix + k] = Math.cos(angle);
          twIm[p * radix + k] = Math.sin(angle);
        }
      }
      stages.push({ radix, span, m, stride, twRe, twIm });
      if (!DEDICATED_RADICES.includes(radix) && !this.rootsRe.has(radix)) {
        const rRe = new Float64Array(radix);
        const rIm = new Float64Array(radix);
        for (let j = 0; j < radix; j++) {
          rRe[j] = Math.cos((-TWO_PI * j) / radix);
          rIm[j] = Math.sin((-TWO_PI * j) / radix);
        }
        this.rootsRe.set(radix, rRe);
        this.rootsIm.set(radix, rIm);
      }
      maxRadix = Math.max(maxRadix, radix);
      span = m;
      stride *= radix;
    }
    this.stages = stages;
    this.genRe = new Float64Array(maxRadix);
    this.genIm = new Float64Array(maxRadix);
  }

  /**
   * Forward transform in place: X[k] = sum_t x[t] exp(-2*pi*i*t*k/N).
   * @param re real parts, Float64Array[N]; overwritten with Re X.
   * @param im imaginary parts, Float64Array[N]; overwritten with Im X.
   */
  forward(re: Float64Array, im: Float64Array): void {
    const out = this.forwardUncopied(re, im);
    // After an odd number of stages the result sits in the work buffers.
    if (out.re !== re) {
      re.set(out.re);
      im.set(out.im);
    }
  }

  /**
   * Forward transform without the final copy: the result is in `re`/`im` after an even number of stages, else in
   * this instance's work buffers (valid until its next transform). Both inputs are overwritten either way.
   * @param re real parts, Float64Array[N].
   * @param im imaginary parts, Float64Array[N].
   * @returns the arrays holding Re X and Im X, [N] each
   */
  forwardUncopied(re: Float64Array, im: Float64Array): { re: Float64Array; im: Float64Array } {
    if (re.length !== this.size || im.length !== this.size) {
      throw new RangeError(`ComplexFft(${this.size}) got arrays of length ${re.length}/${im.length}`);
    }
    let srcRe = re;
    let srcIm = im;
    let dstRe = this.workRe;
    let dstIm = this.workIm;
    for (const stage of this.stages) {
      switch (stage.radix) {
        case 2:
          radix2(stage, srcRe, srcIm, dstRe, dstIm);
          break;
        case 8:
          radix8(stage, srcRe, srcIm, dstRe, dstIm);
          break;
        case 4:
          radix4(stage, srcRe, srcIm, dstRe, dstIm);
          break;
        case 5:
          radix5(stage, srcRe, srcIm, dstRe, dstIm);
          break;
        default:
          this.radixGeneric(stage, srcRe, srcIm, dstRe, dstIm);
      }
      const tRe = srcRe;
      const tIm = srcIm;
      srcRe = dstRe;
      srcIm = dstIm;
      dstRe = tRe;
      dstIm = tIm;
    }
    return { re: srcRe, im: srcIm };
  }

  /** Naive DFT butterfly for a prime radix without a dedicated kernel (r^2 complex MACs per butterfly). */
  private radixGeneric(st: Stage, xRe: Float64Array, xIm: Float64Array, yRe: Float64Array, yIm: Float64Array): void {
    const { radix: r, m, stride: s, twRe, twIm } = st;
    const rootRe = this.rootsRe.get(r) as Float64Array;
    const rootIm = this.rootsIm.get(r) as Float64Array;
    const aRe = this.genRe;
    const aIm = this.genIm;
    for (let p = 0; p < m; p++) {
      for (let q = 0; q < s; q++) {
        for (let j = 0; j < r; j++) {
          aRe[j] = xRe[q + s * (p + j * m)];
          aIm[j] = xIm[q + s * (p + j * m)];
        }
        for (let k = 0; k < r; k++) {
          let sumRe = 0;
          let sumIm = 0;
          for (let j = 0; j < r; j++) {
            const w = (j * k) % r;
            sumRe += aRe[j] * rootRe[w] - aIm[j] * rootIm[w];
            sumIm += aRe[j] * rootIm[w] + aIm[j] * rootRe[w];
          }
          const wr = twRe[p * r + k];
          const wi = twIm[p * r + k];
          const out = q + s * (p * r + k);
          yRe[out] = sumRe * wr - sumIm * wi;
          yIm[out] = sumRe * wi + sumIm * wr;
        }
      }
    }
  }
}

// Stage kernels. Each reads sub-transform element (q, p + j*m) at x[q + s*(p + j*m)], computes the
// radix-r DFT over j, multiplies output k by the stage twiddle exp(-2*pi*i*p*k/span) and writes it at
// y[q + s*(p*r + k)], which is where the next stage (stride s*r) expects its input.

function radix2(st: Stage, xRe: Float64Array, xIm: Float64Array, yRe: Float64Array, yIm: Float64Array): void {
  const { m, stride: s, twRe, twIm } = st;
  for (let p = 0; p < m; p++) {
    const w1r = twRe[p * 2 + 1];
    const w1i = twIm[p * 2 + 1];
    const i0 = s * p;
    const i1 = s * (p + m);
    const o0 = s * (2 * p);
    const o1 = o0 + s;
    for (let q = 0; q < s; q++) {
      const ar = xRe[i0 + q];
      const ai = xIm[i0 + q];
      const br = xRe[i1 + q];
      const bi = xIm[i1 + q];
      yRe[o0 + q] = ar + br;
      yIm[o0 + q] = ai + bi;
      const dr = ar - br;
      const di = ai - bi;
      yRe[o1 + q] = dr * w1r - di * w1i;
      yIm[o1 + q] = dr * w1i + di * w1r;
    }
  }
}

function radix4(st: Stage, xRe: Float64Array, xIm: Float64Array, yRe: Float64Array, yIm: Float64Array): void {
  const { m, stride: s, twRe, twIm } = st;
  for (let p = 0; p < m; p++) {
    const t = p * 4;
    const w1r = twRe[t + 1];
    const w1i = twIm[t + 1];
    const w2r = twRe[t + 2];
    const w2i = twIm[t + 2];
    const w3r = twRe[t + 3];
    const w3i = twIm[t + 3];
    const i0 = s * p;
    const i1 = s * (p + m);
    const i2 = s * (p + 2 * m);
    const i3 = s * (p + 3 * m);
    const o0 = s * t;
    const o1 = o0 + s;
    const o2 = o1 + s;
    const o3 = o2 + s;
    for (let q = 0; q < s; q++) {
      const a0r = xRe[i0 + q];
      const a0i = xIm[i0 + q];
      const a1r = xRe[i1 + q];
      const a1i = xIm[i1 + q];
      const a2r = xRe[i2 + q];
      const a2i = xIm[i2 + q];
      const a3r = xRe[i3 + q];
      const a3i = xIm[i3 + q];
      // y0 = t0 + t2, y2 = t0 - t2, y1 = t1 - i*t3, y3 = t1 + i*t3 (W_4 = -i).
      const t0r = a0r + a2r;
      const t0i = a0i + a2i;
      const t1r = a0r - a2r;
      const t1i = a0i - a2i;
      const t2r = a1r + a3r;
      const t2i = a1i + a3i;
      const t3r = a1r - a3r;
      const t3i = a1i - a3i;
      yRe[o0 + q] = t0r + t2r;
      yIm[o0 + q] = t0i + t2i;
      const y1r = t1r + t3i;
      const y1i = t1i - t3r;
      yRe[o1 + q] = y1r * w1r - y1i * w1i;
      yIm[o1 + q] = y1r * w1i + y1i * w1r;
      const y2r = t0r - t2r;
      const y2i = t0i - t2i;
      yRe[o2 + q] = y2r * w2r - y2i * w2i;
      yIm[o2 + q] = y2r * w2i + y2i * w2r;
      const y3r = t1r - t3i;
      const y3i = t1i + t3r;
      yRe[o3 + q] = y3r * w3r - y3i * w3i;
      yIm[o3 + q] = y3r * w3i + y3i * w3r;
    }
  }
}

function radix8(st: Stage, xRe: Float64Array, xIm: Float64Array, yRe: Float64Array, yIm: Float64Array): void {
  const { m, stride: s, twRe, twIm } = st;
  for (let p = 0; p < m; p++) {
    const t = p * 8;
    const i0 = s * p;
    const i1 = s * (p + m);
    const i2 = s * (p + 2 * m);
    const i3 = s * (p + 3 * m);
    const i4 = s * (p + 4 * m);
    const i5 = s * (p + 5 * m);
    const i6 = s * (p + 6 * m);
    const i7 = s * (p + 7 * m);
    const o0 = s * t;
    for (let q = 0; q < s; q++) {
      // 8-point DFT as two 4-point ones over the even (E) and odd (O) inputs: y[k] = E[k] + W8^k O[k],
      // y[k + 4] = E[k] - W8^k O[k], W8 = exp(-i*pi/4); each 4-point one as in radix4 (W4 = -i).
      const a0r = xRe[i0 + q], a0i = xIm[i0 + q];
      const a1r = xRe[i1 + q], a1i = xIm[i1 + q];
      const a2r = xRe[i2 + q], a2i = xIm[i2 + q];
      const a3r = xRe[i3 + q], a3i = xIm[i3 + q];
      const a4r = xRe[i4 + q], a4i = xIm[i4 + q];
      const a5r = xRe[i5 + q], a5i = xIm[i5 + q];
      const a6r = xRe[i6 + q], a6i = xIm[i6 + q];
      const a7r = xRe[i7 + q], a7i = xIm[i7 + q];
      // E = DFT4(a0, a2, a4, a6)
      let ur = a0r + a4r, ui = a0i + a4i, vr = a0r - a4r, vi = a0i - a4i;
      let wr = a2r + a6r, wi = a2i + a6i, zr = a2r - a6r, zi = a2i - a6i;
      const e0r = ur + wr, e0i = ui + wi, e2r = ur - wr, e2i = ui - wi;
      const e1r = vr + zi, e1i = vi - zr, e3r = vr - zi, e3i = vi + zr;
      // O = DFT4(a1, a3, a5, a7)
      ur = a1r + a5r; ui = a1i + a5i; vr = a1r - a5r; vi = a1i - a5i;
      wr = a3r + a7r; wi = a3i + a7i; zr = a3r - a7r; zi = a3i - a7i;
      const f0r = ur + wr, f0i = ui + wi, f2r = ur - wr, f2i = ui - wi;
      const f1r = vr + zi, f1i = vi - zr, f3r = vr - zi, f3i = vi + zr;
      // W8^1 O1 = (1 - i)/sqrt2 O1, W8^2 O2 = -i O2, W8^3 O3 = -(1 + i)/sqrt2 O3
      const g1r = SQRT1_2 * (f1r + f1i), g1i = SQRT1_2 * (f1i - f1r);
      const g2r = f2i, g2i = -f2r;
      const g3r = SQRT1_2 * (f3i - f3r), g3i = -SQRT1_2 * (f3r + f3i);
      yRe[o0 + q] = e0r + f0r;
      yIm[o0 + q] = e0i + f0i;
      let yr = e1r + g1r, yi = e1i + g1i, cr = twRe[t + 1], ci = twIm[t + 1];
      yRe[o0 + s + q] = yr * cr - yi * ci;
      yIm[o0 + s + q] = yr * ci + yi * cr;
      yr = e2r + g2r; yi = e2i + g2i; cr = twRe[t + 2]; ci = twIm[t + 2];
      yRe[o0 + 2 * s + q] = yr * cr - yi * ci;
      yIm[o0 + 2 * s + q] = yr * ci + yi * cr;
      yr = e3r + g3r; yi = e3i + g3i; cr = twRe[t + 3]; ci = twIm[t + 3];
      yRe[o0 + 3 * s + q] = yr * cr - yi * ci;
      yIm[o0 + 3 * s + q] = yr * ci + yi * cr;
      yr = e0r - f0r; yi = e0i - f0i; cr = twRe[t + 4]; ci = twIm[t + 4];
      yRe[o0 + 4 * s + q] = yr * cr - yi * ci;
      yIm[o0 + 4 * s + q] = yr * ci + yi * cr;
      yr = e1r - g1r; yi = e1i - g1i; cr = twRe[t + 5]; ci = twIm[t + 5];
      yRe[o0 + 5 * s + q] = yr * cr - yi * ci;
      yIm[o0 + 5 * s + q] = yr * ci + yi * cr;
      yr = e2r - g2r; yi = e2i - g2i; cr = twRe[t + 6]; ci = twIm[t + 6];
      yRe[o0 + 6 * s + q] = yr * cr - yi * ci;
      yIm[o0 + 6 * s + q] = yr * ci + yi * cr;
      yr = e3r - g3r; yi = e3i - g3i; cr = twRe[t + 7]; ci = twIm[t + 7];
      yRe[o0 + 7 * s + q] = yr * cr - yi * ci;
      yIm[o0 + 7 * s + q] = yr * ci + yi * cr;
    }
  }
}

function radix5(st: Stage, xRe: Float64Array, xIm: Float64Array, yRe: Float64Array, yIm: Float64Array): void {
  const { m, stride: s, twRe, twIm } = st;
  for (let p = 0; p < m; p++) {
    const t = p * 5;
    const w1r = twRe[t + 1];
    const w1i = twIm[t + 1];
    const w2r = twRe[t + 2];
    const w2i = twIm[t + 2];
    const w3r = twRe[t + 3];
    const w3i = twIm[t + 3];
    const w4r = twRe[t + 4];
    const w4i = twIm[t + 4];
    const i0 = s * p;
    const i1 = s * (p + m);
    const i2 = s * (p + 2 * m);
    const i3 = s * (p + 3 * m);
    const i4 = s * (p + 4 * m);
    const o0 = s * t;
    const o1 = o0 + s;
    const o2 = o1 + s;
    const o3 = o2 + s;
    const o4 = o3 + s;
    for (let q = 0; q < s; q++) {
      const a0r = xRe[i0 + q];
      const a0i = xIm[i0 + q];
      // Pair inputs symmetric around j = 0 (j and 5 - j share cosines, sines flip sign).
      const b1r = xRe[i1 + q] + xRe[i4 + q];
      const b1i = xIm[i1 + q] + xIm[i4 + q];
      const d1r = xRe[i1 + q] - xRe[i4 + q];
      const d1i = xIm[i1 + q] - xIm[i4 + q];
      const b2r = xRe[i2 + q] + xRe[i3 + q];
      const b2i = xIm[i2 + q] + xIm[i3 + q];
      const d2r = xRe[i2 + q] - xRe[i3 + q];
      const d2i = xIm[i2 + q] - xIm[i3 + q];
      yRe[o0 + q] = a0r + b1r + b2r;
      yIm[o0 + q] = a0i + b1i + b2i;
      // y1/y4 = ra -/+ i*ta, y2/y3 = rb -/+ i*tb.
      const rar = a0r + C5_1 * b1r + C5_2 * b2r;
      const rai = a0i + C5_1 * b1i + C5_2 * b2i;
      const rbr = a0r + C5_2 * b1r + C5_1 * b2r;
      const rbi = a0i + C5_2 * b1i + C5_1 * b2i;
      const tar = S5_1 * d1r + S5_2 * d2r;
      const tai = S5_1 * d1i + S5_2 * d2i;
      const tbr = S5_2 * d1r - S5_1 * d2r;
      const tbi = S5_2 * d1i - S5_1 * d2i;
      const y1r = rar + tai;
      const y1i = rai - tar;
      const y4r = rar - tai;
      const y4i = rai + tar;
      const y2r = rbr + tbi;
      const y2i = rbi - tbr;
      const y3r = rbr - tbi;
      const y3i = rbi + tbr;
      yRe[o1 + q] = y1r * w1r - y1i * w1i;
      yIm[o1 + q] = y1r * w1i + y1i * w1r;
      yRe[o2 + q] = y2r * w2r - y2i * w2i;
      yIm[o2 + q] = y2r * w2i + y2i * w2r;
      yRe[o3 + q] = y3r * w3r - y3i * w3i;
      yIm[o3 + q] = y3r * w3i + y3i * w3r;
      yRe[o4 + q] = y4r * w4r - y4i * w4i;
      yIm[o4 + q] = y4r * w4i + y4i * w4r;
    }
  }
}

/** Any array of real samples the transform can read (Float32Array audio, Float64Array frames). */
export type RealArray = Float32Array | Float64Array;

/**
 * FFT of a real frame of fixed length N, one-sided output (k = 0..N/2), like numpy.fft.rfft.
 *
 * For even N (Whisper's 400) it packs the frame into an N/2-point complex sequence
 * z[t] = x[2t] + i*x[2t+1], runs one half-size complex FFT and splits the result into the
 * even/odd-sample spectra, roughly halving the work of a full complex FFT. Odd N falls back to an
 * N-point complex FFT with zero imaginary part.
 */
export class RealFft {
  /** Frame length N. */
  readonly size: number;
  /** Number of one-sided bins, N/2 + 1 (integer division). */
  readonly bins: number;
  private readonly half: boolean;
  private readonly cfft: ComplexFft;
  /** Complex FFT buffers: [N/2] for even N, [N] for odd N. */
  private readonly bufRe: Float64Array;
  private readonly bufIm: Float64Array;
  /** exp(-2*pi*i*k/N) for k = 0..N/2, used to merge even/odd half spectra (even N only). */
  private readonly splitRe: Float64Array;
  private readonly splitIm: Float64Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 2) {
      throw new RangeError(`Real FFT size must be an integer >= 2, got ${size}`);
    }
    this.size = size;
    this.bins = Math.floor(size / 2) + 1;
    this.half = size % 2 === 0;
    const cSize = this.half ? size / 2 : size;
    this.cfft = new ComplexFft(cSize);
    this.bufRe = new Float64Array(cSize);
    this.bufIm = new Float64Array(cSize);
    this.splitRe = new Float64Array(this.bins);
    this.splitIm = new Float64Array(this.bins);
    for (let k = 0; k < this.bins; k++) {
      this.splitRe[k] = Math.cos((-TWO_PI * k) / size);
      this.splitIm[k] = Math.sin((-TWO_PI * k) / size);
    }
  }

  /**
   * One-sided spectrum X[k], k = 0..N/2, of a real frame.
   * @param frame input, [N] real samples (read only).
   * @param outRe real parts, [N/2 + 1], preallocated.
   * @param outIm imaginary parts, [N/2 + 1], preallocated.
   */
  transform(frame: RealArray, outRe: RealArray, outIm: RealArray): void {
    this.checkLengths(frame, outRe, outIm);
    this.run(frame);
    const { bufRe, bufIm } = this;
    if (!this.half) {
      for (let k = 0; k < this.bins; k++) {
        outRe[k] = bufRe[k];
        outIm[k] = bufIm[k];
      }
      return;
    }
    const m = this.size / 2;
    for (let k = 0; k <= m; k++) {
      const { re, im } = this.splitBin(k, m);
      outRe[k] = re;
      outIm[k] = im;
    }
  }

  /**
   * Power spectrum |X[k]|^2, k = 0..N/2, of a real frame (units: squared input amplitude, unnormalised,
   * as `np.abs(np.fft.rfft(frame)) ** 2` and `torch.stft(...).abs() ** 2`).
   * @param frame input, [N] real samples (read only).
   * @param out power per bin, [N/2 + 1], preallocated.
   */
  powerSpectrum(frame: RealArray, out: RealArray): void {
    this.checkLengths(frame, out);
    this.run(frame);
    const { bufRe, bufIm } = this;
    if (!this.half) {
      for (let k = 0; k < this.bins; k++) out[k] = bufRe[k] * bufRe[k] + bufIm[k] * bufIm[k];
      return;
    }
    this.splitPower(bufRe, bufIm, out);
  }

  /**
   * Even N only: the complex FFT's input buffers, [N/2] each, for a caller that writes a frame into them directly
   * (re[t] = x[2t], im[t] = x[2t + 1]: the packing `powerSpectrum` does) and then calls `packedPowerSpectrum`. The
   * log-mel front end writes its windowed samples here, which saves a pass over a separate frame per STFT frame.
   * @throws RangeError for odd N (no packed form)
   */
  packedInput(): { re: Float64Array; im: Float64Array } {
    if (!this.half) throw new RangeError(`RealFft(${this.size}): odd sizes have no packed input`);
    return { re: this.bufRe, im: this.bufIm };
  }

  /**
   * `powerSpectrum` of the frame a caller wrote into `packedInput()` (even N only; the input buffers are overwritten).
   * @param out power per bin, [N/2 + 1], preallocated.
   */
  packedPowerSpectrum(out: RealArray): void {
    if (!this.half) throw new RangeError(`RealFft(${this.size}): odd sizes have no packed input`);
    const z = this.cfft.forwardUncopied(this.bufRe, this.bufIm);
    this.splitPower(z.re, z.im, out);
  }

  /** |X[k]|^2 for even N from the packed half-size spectrum Z = bufRe + i bufIm. */
  private splitPower(bufRe: Float64Array, bufIm: Float64Array, out: RealArray): void {
    const m = this.size / 2;
    // Bins 0 and N/2 are real: sum and difference of the even- and odd-sample DC terms.
    const dcSum = bufRe[0] + bufIm[0];
    const dcDiff = bufRe[0] - bufIm[0];
    out[0] = dcSum * dcSum;
    out[m] = dcDiff * dcDiff;
    const { splitRe, splitIm } = this;
    for (let k = 1; k < m; k++) {
      // Inlined splitBin(k): E = (Z[k] + conj Z[m-k]) / 2, O = -i (Z[k] - conj Z[m-k]) / 2, X = E + W^k O.
      const zr = bufRe[k];
      const zi = bufIm[k];
      const cr = bufRe[m - k];
      const ci = bufIm[m - k];
      const er = 0.5 * (zr + cr);
      const ei = 0.5 * (zi - ci);
      const or = 0.5 * (zi + ci);
      const oi = -0.5 * (zr - cr);
      const wr = splitRe[k];
      const wi = splitIm[k];
      const xr = er + wr * or - wi * oi;
      const xi = ei + wr * oi + wi * or;
      out[k] = xr * xr + xi * xi;
    }
  }

  /** Loads the frame into the complex buffers (packed pairs for even N) and runs the complex FFT. */
  private run(frame: RealArray): void {
    const { bufRe, bufIm } = this;
    if (this.half) {
      const m = this.size / 2;
      for (let t = 0; t < m; t++) {
        bufRe[t] = frame[2 * t];
        bufIm[t] = frame[2 * t + 1];
      }
    } else {
      bufRe.set(frame);
      bufIm.fill(0);
    }
    this.cfft.forward(bufRe, bufIm);
  }

  /** X[k] for even N from the packed half-size spectrum Z (k = 0..m, Z[m] wraps to Z[0]). */
  private splitBin(k: number, m: number): { re: number; im: number } {
    const { bufRe, bufIm } = this;
    const zr = bufRe[k % m];
    const zi = bufIm[k % m];
    const cr = bufRe[(m - k) % m];
    const ci = bufIm[(m - k) % m];
    const er = 0.5 * (zr + cr);
    const ei = 0.5 * (zi - ci);
    const or = 0.5 * (zi + ci);
    const oi = -0.5 * (zr - cr);
    const wr = this.splitRe[k];
    const wi = this.splitIm[k];
    return { re: er + wr * or - wi * oi, im: ei + wr * oi + wi * or };
  }

  private checkLengths(frame: RealArray, ...outs: RealArray[]): void {
    if (frame.length !== this.size) {
      throw new RangeError(`RealFft(${this.size}) got a frame of length ${frame.length}`);
    }
    for (const out of outs) {
      if (out.length < this.bins) {
        throw new RangeError(`RealFft(${this.size}) needs outputs of length >= ${this.bins}, got ${out.length}`);
      }
    }
  }
}
