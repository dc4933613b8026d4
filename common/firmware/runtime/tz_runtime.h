/*
 * tz_runtime — one ExecuTorch program in memory the app owns, with no heap:
 *
 *   BufferDataLoader (the .pte already in flash/RAM) -> Program::load -> MethodMeta (planned buffer sizes)
 *   -> planned buffers carved from the method pool -> Method::load -> set inputs -> execute -> outputs.
 *
 * Memory, all given by the caller (see tz_pools.h for the linker sections):
 *   method pool  Method metadata (values, tensor headers, kernel tables, delegate handles) followed by the
 *                memory-planned buffers (activations, inputs, outputs). Any CPU memory.
 *   temp pool    kernels' and delegates' temporary memory, reset after each one. The Ethos-U delegate takes
 *                the Vela scratch (the NPU's tensor arena) from here on every run, so with Shared_Sram /
 *                Sram_Only it must be SRAM the NPU can reach, and at least the scratch size that
 *                get_ethosu_scratch_from_pte (or common/boards.py) reports.
 *
 * Load failures say which pool is short and by how much. The ExecuTorch log (ET_LOG) carries the details.
 */
#ifndef TZ_RUNTIME_H
#define TZ_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include <executorch/extension/data_loader/buffer_data_loader.h>
#include <executorch/runtime/core/hierarchical_allocator.h>
#include <executorch/runtime/core/memory_allocator.h>
#include <executorch/runtime/executor/memory_manager.h>
#include <executorch/runtime/executor/method.h>
#include <executorch/runtime/executor/program.h>

namespace tz {

using executorch::aten::ScalarType;
using executorch::runtime::Error;

// Storage for one object constructed later (Program and Method have no default constructor, and the
// runtime must not allocate): placement-new into an aligned byte array.
template <typename T>
class Slot {
 public:
  Slot() = default;
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  ~Slot() { reset(); }

  template <typename... Args>
  T& emplace(Args&&... args) {
    reset();
    T* object = new (storage_) T(static_cast<Args&&>(args)...);
    filled_ = true;
    return *object;
  }
  void reset() {
    if (filled_) {
      get().~T();
      filled_ = false;
    }
  }
  bool has_value() const { return filled_; }
  T& get() { return *reinterpret_cast<T*>(storage_); }
  const T& get() const { return *reinterpret_cast<const T*>(storage_); }

 private:
  alignas(T) unsigned char storage_[sizeof(T)];
  bool filled_ = false;
};

struct MemoryPools {
  uint8_t* method = nullptr;
  size_t method_size = 0;
  uint8_t* temp = nullptr;
  size_t temp_size = 0;
};

// What a loaded method actually took, to size the pools for a product build.
struct PoolUsage {
  size_t method_used = 0;    // bytes of the method pool in use after load (metadata + planned buffers)
  size_t planned_bytes = 0;  // of which memory-planned buffers
  size_t temp_size = 0;      // temp pool size (its peak use is not tracked: it is reset after each kernel)
};

// A read-only view of one output tensor.
struct TensorView {
  const void* data = nullptr;
  size_t numel = 0;
  size_t nbytes = 0;
  ScalarType dtype = ScalarType::Undefined;
};

// Largest number of memory-planned buffers (mem_ids) a program may use; ExecuTorch programs for
// Ethos-U use one (mem_id 1) unless a custom memory plan adds more.
constexpr size_t kMaxPlannedBuffers = 4;

class Model {
 public:
  Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // Loads method `method_name` (nullptr: the program's first method) of the .pte at `pte`.
  // `pte` must stay valid while the model is used (the program points into it).
  Error load(const void* pte, size_t pte_size, const MemoryPools& pools, const char* method_name = nullptr);

  size_t num_inputs() const;
  size_t num_outputs() const;
  // Expected byte size and dtype of input `index` (0 / Undefined if out of range).
  size_t input_nbytes(size_t index) const;
  ScalarType input_dtype(size_t index) const;

  // Copies `nbytes` of `data` into input `index`. The size and dtype must match the program's input
  // (an int8 model wants the quantized int8 tensor, not float).
  Error set_input(size_t index, const void* data, size_t nbytes, ScalarType dtype);
  Error run();
  TensorView output(size_t index) const;
  PoolUsage usage() const { return usage_; }
  const char* method_name() const { return method_name_; }

 private:
  Slot<executorch::extension::BufferDataLoader> loader_;
  Slot<executorch::runtime::Program> program_;
  Slot<executorch::runtime::MemoryAllocator> method_allocator_;
  Slot<executorch::runtime::MemoryAllocator> temp_allocator_;
  executorch::runtime::Span<uint8_t> planned_spans_[kMaxPlannedBuffers];
  Slot<executorch::runtime::HierarchicalAllocator> planned_memory_;
  Slot<executorch::runtime::MemoryManager> memory_manager_;
  Slot<executorch::runtime::Method> method_;
  const char* method_name_ = nullptr;
  PoolUsage usage_;
};

const char* error_name(Error error);
const char* dtype_name(ScalarType dtype);

}  // namespace tz

#endif  // TZ_RUNTIME_H
