// tz_runtime: see tz_runtime.h.
#include "tz_runtime.h"

#include <string.h>

#include <executorch/runtime/core/exec_aten/exec_aten.h>
#include <executorch/runtime/core/exec_aten/util/scalar_type_util.h>
#include <executorch/runtime/executor/method_meta.h>
#include <executorch/runtime/platform/runtime.h>

#include "tz_platform.h"

namespace tz {

using executorch::aten::Tensor;
using executorch::aten::TensorImpl;
using executorch::extension::BufferDataLoader;
using executorch::runtime::EValue;
using executorch::runtime::HierarchicalAllocator;
using executorch::runtime::MemoryAllocator;
using executorch::runtime::MemoryManager;
using executorch::runtime::Method;
using executorch::runtime::MethodMeta;
using executorch::runtime::Program;
using executorch::runtime::Result;
using executorch::runtime::Span;
using executorch::runtime::Tag;
using executorch::runtime::TensorInfo;

namespace {
// The Ethos-U driver wants 16-byte aligned buffers; planned buffers hold its inputs and outputs.
constexpr size_t kBufferAlignment = 16;
}  // namespace

Error Model::load(const void* pte, size_t pte_size, const MemoryPools& pools, const char* method_name) {
  executorch::runtime::runtime_init();  // idempotent: PAL init and kernel/backend registries
  method_.reset();
  if (pte == nullptr || pte_size == 0) {
    tz_log("tz_runtime: no model data (pte=%p, %lu bytes)\n", pte, (unsigned long)pte_size);
    return Error::InvalidArgument;
  }
  if (pools.method == nullptr || pools.method_size == 0) {
    tz_log("tz_runtime: the method pool is empty; give MemoryPools.method a buffer (TZ_METHOD_POOL_SIZE)\n");
    return Error::InvalidArgument;
  }

  BufferDataLoader& loader = loader_.emplace(pte, pte_size);
  Result<Program> program = Program::load(&loader, Program::Verification::Minimal);
  if (!program.ok()) {
    tz_log("tz_runtime: Program::load failed (%s): is this a .pte for ExecuTorch 1.5, 16-byte aligned?\n",
           error_name(program.error()));
    return program.error();
  }
  Program& prog = program_.emplace(std::move(program.get()));

  if (method_name == nullptr) {
    Result<const char*> first = prog.get_method_name(0);
    if (!first.ok()) {
      tz_log("tz_runtime: the program has no methods\n");
      return first.error();
    }
    method_name = first.get();
  }
  method_name_ = method_name;
  Result<MethodMeta> meta = prog.method_meta(method_name);
  if (!meta.ok()) {
    tz_log("tz_runtime: no method '%s' in the program (%s)\n", method_name, error_name(meta.error()));
    return meta.error();
  }

  MemoryAllocator& method_allocator =
      method_allocator_.emplace(static_cast<uint32_t>(pools.method_size), pools.method);

  // Planned buffers first, so their size is known exactly and the error can name the shortfall.
  const size_t num_planned = meta->num_memory_planned_buffers();
  if (num_planned > kMaxPlannedBuffers) {
    tz_log("tz_runtime: the program plans %lu memory buffers (mem_ids); this runtime supports %lu\n",
           (unsigned long)num_planned, (unsigned long)kMaxPlannedBuffers);
    return Error::NotSupported;
  }
  size_t planned_total = 0;
  for (size_t id = 0; id < num_planned; ++id) {
    const size_t size = static_cast<size_t>(meta->memory_planned_buffer_size(id).get());
    uint8_t* buffer = nullptr;
    if (size > 0) {
      buffer = static_cast<uint8_t*>(method_allocator.allocate(size, kBufferAlignment));
      if (buffer == nullptr) {
        tz_log("tz_runtime: method pool too small: planned buffer %lu needs %lu bytes, %lu of %lu are free; "
               "raise TZ_METHOD_POOL_SIZE by at least %lu bytes\n",
               (unsigned long)id, (unsigned long)size,
               (unsigned long)(pools.method_size - method_allocator.used_size()),
               (unsigned long)pools.method_size,
               (unsigned long)(size + kBufferAlignment - (pools.method_size - method_allocator.used_size())));
        return Error::MemoryAllocationFailed;
      }
    }
    planned_spans_[id] = Span<uint8_t>(buffer, size);
    planned_total += size;
  }
  HierarchicalAllocator& planned =
      planned_memory_.emplace(Span<Span<uint8_t>>(planned_spans_, num_planned));

  MemoryAllocator* temp = nullptr;
  if (pools.temp != nullptr && pools.temp_size > 0) {
    temp = &temp_allocator_.emplace(static_cast<uint32_t>(pools.temp_size), pools.temp);
  }
  MemoryManager& memory_manager = memory_manager_.emplace(&method_allocator, &planned, temp);

  Result<Method> method = prog.load_method(method_name, &memory_manager);
  if (!method.ok()) {
    const Error error = method.error();
    if (error == Error::MemoryAllocationFailed) {
      tz_log("tz_runtime: method pool too small for the method's metadata: %lu of %lu bytes used before the "
             "failing allocation; raise TZ_METHOD_POOL_SIZE (e.g. double it) and read method_used after load\n",
             (unsigned long)method_allocator.used_size(), (unsigned long)pools.method_size);
    } else if (error == Error::NotFound) {
      tz_log("tz_runtime: loading '%s' failed (NotFound): a backend (e.g. EthosUBackend) or operator kernel "
             "is not linked into this build; the host build runs only non-delegated (portable) programs\n",
             method_name);
    } else if (error == Error::OperatorMissing) {
      tz_log("tz_runtime: loading '%s' failed: an operator kernel is missing from this build (link the "
             "kernels library the program needs, e.g. quantized kernels for an int8 portable program)\n",
             method_name);
    } else {
      tz_log("tz_runtime: loading method '%s' failed (%s)\n", method_name, error_name(error));
    }
    return error;
  }
  method_.emplace(std::move(method.get()));

  usage_.method_used = method_allocator.used_size();
  usage_.planned_bytes = planned_total;
  usage_.temp_size = pools.temp_size;
  return Error::Ok;
}

size_t Model::num_inputs() const { return method_.has_value() ? method_.get().inputs_size() : 0; }
size_t Model::num_outputs() const { return method_.has_value() ? method_.get().outputs_size() : 0; }

size_t Model::input_nbytes(size_t index) const {
  if (!method_.has_value() || index >= num_inputs()) return 0;
  Result<TensorInfo> info = method_.get().method_meta().input_tensor_meta(index);
  return info.ok() ? info->nbytes() : 0;
}

ScalarType Model::input_dtype(size_t index) const {
  if (!method_.has_value() || index >= num_inputs()) return ScalarType::Undefined;
  Result<TensorInfo> info = method_.get().method_meta().input_tensor_meta(index);
  return info.ok() ? info->scalar_type() : ScalarType::Undefined;
}

Error Model::set_input(size_t index, const void* data, size_t nbytes, ScalarType dtype) {
  if (!method_.has_value()) {
    tz_log("tz_runtime: set_input before a successful load\n");
    return Error::InvalidState;
  }
  Method& method = method_.get();
  MethodMeta meta = method.method_meta();
  if (index >= meta.num_inputs()) {
    tz_log("tz_runtime: input %lu does not exist; the method has %lu input(s)\n", (unsigned long)index,
           (unsigned long)meta.num_inputs());
    return Error::InvalidArgument;
  }
  Result<Tag> tag = meta.input_tag(index);
  if (!tag.ok() || tag.get() != Tag::Tensor) {
    tz_log("tz_runtime: input %lu is not a tensor\n", (unsigned long)index);
    return Error::InvalidArgument;
  }
  Result<TensorInfo> info = meta.input_tensor_meta(index);
  if (!info.ok()) return info.error();
  if (info->scalar_type() != dtype) {
    tz_log("tz_runtime: input %lu is %s but the app passed %s (an int8 model takes the quantized int8 tensor: "
           "q = round(x / scale) + zero_point)\n",
           (unsigned long)index, dtype_name(info->scalar_type()), dtype_name(dtype));
    return Error::InvalidArgument;
  }
  if (info->nbytes() != nbytes) {
    tz_log("tz_runtime: input %lu needs %lu bytes, the app passed %lu\n", (unsigned long)index,
           (unsigned long)info->nbytes(), (unsigned long)nbytes);
    return Error::InvalidArgument;
  }
  // A tensor header over the caller's bytes; set_input copies them into the planned input buffer
  // (or, for an input that is not memory planned, keeps the pointer: then `data` must outlive run()).
  TensorImpl impl(info->scalar_type(), static_cast<TensorImpl::SizesType>(info->sizes().size()),
                  const_cast<TensorImpl::SizesType*>(info->sizes().data()), const_cast<void*>(data),
                  const_cast<TensorImpl::DimOrderType*>(info->dim_order().data()));
  Tensor tensor(&impl);
  const Error error = method.set_input(EValue(tensor), index);
  if (error != Error::Ok) {
    tz_log("tz_runtime: set_input(%lu) failed (%s)\n", (unsigned long)index, error_name(error));
  }
  return error;
}

Error Model::run() {
  if (!method_.has_value()) {
    tz_log("tz_runtime: run before a successful load\n");
    return Error::InvalidState;
  }
  const Error error = method_.get().execute();
  if (error == Error::MemoryAllocationFailed) {
    tz_log("tz_runtime: execute ran out of temp memory: the temp pool (%lu bytes) must hold the Ethos-U "
           "scratch of this model; raise TZ_TEMP_POOL_SIZE to the size common/boards.py reports\n",
           (unsigned long)usage_.temp_size);
  } else if (error != Error::Ok) {
    tz_log("tz_runtime: execute failed (%s)\n", error_name(error));
  }
  return error;
}

TensorView Model::output(size_t index) const {
  TensorView view;
  if (!method_.has_value() || index >= num_outputs()) return view;
  const EValue& value = method_.get().get_output(index);
  if (!value.isTensor()) return view;
  const Tensor& tensor = value.toTensor();
  view.data = tensor.const_data_ptr();
  view.numel = static_cast<size_t>(tensor.numel());
  view.nbytes = tensor.nbytes();
  view.dtype = tensor.scalar_type();
  return view;
}

const char* error_name(Error error) {
  switch (error) {
    case Error::Ok: return "Ok";
    case Error::Internal: return "Internal";
    case Error::InvalidState: return "InvalidState";
    case Error::EndOfMethod: return "EndOfMethod";
    case Error::NotSupported: return "NotSupported";
    case Error::NotImplemented: return "NotImplemented";
    case Error::InvalidArgument: return "InvalidArgument";
    case Error::InvalidType: return "InvalidType";
    case Error::OperatorMissing: return "OperatorMissing";
    case Error::NotFound: return "NotFound";
    case Error::MemoryAllocationFailed: return "MemoryAllocationFailed";
    case Error::AccessFailed: return "AccessFailed";
    case Error::InvalidProgram: return "InvalidProgram";
    case Error::DelegateInvalidCompatibility: return "DelegateInvalidCompatibility";
    case Error::DelegateMemoryAllocationFailed: return "DelegateMemoryAllocationFailed";
    case Error::DelegateInvalidHandle: return "DelegateInvalidHandle";
    default: return "Error";
  }
}

const char* dtype_name(ScalarType dtype) {
  switch (dtype) {
    case ScalarType::Char: return "int8";
    case ScalarType::Byte: return "uint8";
    case ScalarType::Short: return "int16";
    case ScalarType::Int: return "int32";
    case ScalarType::Float: return "float32";
    case ScalarType::Bool: return "bool";
    default: return "other";
  }
}

}  // namespace tz
