#!/bin/sh
# Run by binding.gyp before the addon is built: a missing system library is named here, with
# the package that has it, rather than left to a compiler error about a header.
# libseccomp compiles seccomp profiles (native/seccomp.cc); Debian and Ubuntu: libseccomp-dev.
cxx=${CXX_target:-${CXX:-c++}}
if ! printf '#include <seccomp.h>\n' | $cxx -E -x c++ - >/dev/null 2>&1; then
  echo "tspod: building the addon needs libseccomp's headers and library, which $cxx does not find:" >&2
  echo "  apt-get install libseccomp-dev   (Fedora, RHEL: dnf install libseccomp-devel)" >&2
  exit 1
fi
