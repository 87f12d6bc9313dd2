// Result<unique_ptr<Derived>> -> Result<unique_ptr<Base>>: how Queue and Client answer the Store
// interface (persisting/store.h) with the writers and readers their own calls return.
#pragma once

#include <memory>

#include "persisting/status.h"

namespace persisting {

template <typename Base, typename Derived>
Result<std::unique_ptr<Base>> upcast(Result<std::unique_ptr<Derived>> r) {
  if (!r.ok()) return r.status();
  return std::unique_ptr<Base>(std::move(r).value());
}

}  // namespace persisting
