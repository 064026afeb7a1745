// The names a layer's tar gives its entries, checked before anything touches the disk. A layer
// is untrusted input: a name must stay a plain relative path, and a whiteout must name exactly
// one sibling (OCI image spec, "Representing Changes" and "Whiteouts").
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace tandem::image {

// An entry's path relative to the layer's root, its components joined by '/' ("usr/bin/env"),
// or "" for the root itself. Accepts what tar tools write: leading "./" (docker save,
// `tar -C dir .`) and a trailing '/' on directories. Refuses, with the reason: an empty name, an
// absolute name, a NUL byte, an empty component ("a//b"), and "." or ".." components, which are
// never needed to name a file and are how a layer would climb out of its root.
Result<std::string> cleanEntryPath(std::string_view raw);

// Splits a cleaned, non-empty path into its parent ("" for the root) and its last component.
struct ParentAndName {
  std::string_view parent;
  std::string_view name;
};
ParentAndName splitParent(std::string_view cleaned);

enum class WhiteoutKind {
  None,          // an ordinary entry
  Remove,        // ".wh.NAME": NAME is deleted from the layers below
  Opaque,        // ".wh..wh..opq": the directory hides everything the layers below put in it
  AufsMetadata,  // ".wh..wh.*" else: aufs bookkeeping (hardlink and data dirs), never content
};

struct Whiteout {
  WhiteoutKind kind = WhiteoutKind::None;
  // Remove: the path of the removed entry. Opaque: the path of the directory ("" for the root).
  std::string target;
};

// Reads the whiteout meaning of a cleaned path. Refuses ".wh." names that name no valid sibling
// (".wh.", ".wh..", ".wh...") and paths that go through a whiteout ("a/.wh.b/c"): a whiteout is a
// marker, never a directory.
Result<Whiteout> classifyWhiteout(std::string_view cleaned);

}  // namespace tandem::image
