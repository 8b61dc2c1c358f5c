#pragma once

// sm_90 building blocks of the kernels that stream through shared memory: mbarriers, the copy engine
// (bulk and tensor copies) and, on sm_90a, warpgroup MMAs. Callers guard their use by architecture.
#include "common.cuh"

#include <cuda.h>

#include <cstdint>
#include <type_traits>

namespace llmctl::kernels {

inline __device__ void barrier_init(std::uint64_t* bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(shared_address(bar)), "r"(count));
}
// Makes the initialised barriers visible to the copy engine.
inline __device__ void barrier_init_fence() {
  asm volatile("fence.mbarrier_init.release.cluster;\n fence.proxy.async.shared::cta;" ::: "memory");
}
// Arrives and expects `bytes` more of copies before the barrier's phase completes.
inline __device__ void barrier_expect(std::uint64_t* bar, std::uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(shared_address(bar)), "r"(bytes)
               : "memory");
}
inline __device__ void barrier_arrive(std::uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(shared_address(bar)) : "memory");
}
// Waits for the phase of parity `parity` to complete.
inline __device__ void barrier_wait(std::uint64_t* bar, int parity) {
  asm volatile(
      "{\n .reg .pred done;\n waiting:\n mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n @!done bra waiting;\n}" ::"r"(
          shared_address(bar)),
      "r"(parity)
      : "memory");
}
// `bytes` from global `source` to shared `target`, counted on `bar`.
inline __device__ void bulk_copy(void* target, const void* source, std::uint32_t bytes, std::uint64_t* bar) {
  asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
                   shared_address(target)),
               "l"(source), "r"(bytes), "r"(shared_address(bar))
               : "memory");
}
// The box of the 2D tensor `map` at (x inner, y outer) to shared `target`, counted on `bar`.
inline __device__ void tensor_copy(void* target, const CUtensorMap* map, int x, int y, std::uint64_t* bar) {
  asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];" ::"r"(
                   shared_address(target)),
               "l"(reinterpret_cast<std::uint64_t>(map)), "r"(x), "r"(y), "r"(shared_address(bar))
               : "memory");
}

// Warpgroup MMAs (sm_90a). An operand in shared memory is described by its address and layout: here
// K-major rows of 128 bytes as the tensor copies write them with the 128-byte swizzle, 8-row groups
// 1,024 bytes apart (the group must start 1,024-byte aligned; a k step of 16 elements adds 32 bytes).
inline __device__ std::uint64_t wgmma_operand(const void* p) {
  const std::uint64_t address = shared_address(p);
  return ((address & 0x3FFFF) >> 4) | (std::uint64_t{1} << 16) | (std::uint64_t{1024 >> 4} << 32) |
         (std::uint64_t{1} << 62);
}
inline __device__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
inline __device__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
// Waits until at most `kPending` committed groups of this warpgroup's MMAs are still running.
template <int kPending>
inline __device__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(kPending) : "memory");
}
// d (+)= a · bᵀ for a 64 × 16 and b 144 × 16, f32 accumulators in the warpgroup's fragment layout:
// thread t holds rows 16 (t / 32) + (t % 32) / 4 (+ 8) and, in each 8-column block j, columns
// 8j + 2 (t % 4) (+ 1), as d[4j], d[4j + 1] (and d[4j + 2], d[4j + 3] for the row 8 below). PTX names
// every accumulator register, hence the long lists.
#define LLMCTL_WGMMA_M64N144K16(TYPE) \
  asm volatile( \
      "{\n .reg .pred p;\n setp.ne.b32 p, %74, 0;\n" \
      "wgmma.mma_async.sync.aligned.m64n144k16.f32." TYPE "." TYPE " {" \
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, " \
      "%18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, " \
      "%36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, " \
      "%54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71}, " \
      "%72, %73, p, 1, 1, 0, 0;\n}\n" \
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), \
        "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), \
        "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), \
        "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), \
        "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), \
        "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), \
        "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), \
        "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]) \
      : "l"(a), "l"(b), "r"(static_cast<int>(accumulate)))
template <typename T>
inline __device__ void wgmma_m64n144k16(float (&d)[72], std::uint64_t a, std::uint64_t b, bool accumulate) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  if constexpr (std::is_same_v<T, __nv_bfloat16>)
    LLMCTL_WGMMA_M64N144K16("bf16");
  else
    LLMCTL_WGMMA_M64N144K16("f16");
#else
  __trap();
#endif
}
#undef LLMCTL_WGMMA_M64N144K16

}  // namespace llmctl::kernels
