{
  # Two targets: the Node-API addon (native/) and the static, libc-free infra program (pause/).
  "variables": {
    "tspod_version": "<!(node -p \"require('./package.json').version\")",
    "system_libraries_found": "<!(sh native/check-deps.sh)"
  },
  "targets": [
    {
      "target_name": "tspod",
      "sources": [
        "native/addon.cc",
        "native/errors.cc",
        "native/spawn.cc",
        "native/child.cc",
        "native/exit_watch.cc",
        "native/reader.cc",
        "native/ns.cc",
        "native/fs.cc",
        "native/pty.cc",
        "native/seccomp.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "libraries": ["-lseccomp"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=gnu++17", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "pause",
      "type": "executable",
      "sources": ["pause/pause.c"],
      "defines": ["PAUSE_VERSION=\"<(tspod_version)\""],
      "cflags": [
        "-Os", "-ffreestanding", "-fno-builtin", "-fno-stack-protector", "-fno-pie",
        "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-fcf-protection=none",
        "-ffunction-sections", "-fdata-sections", "-Wall", "-Wextra"
      ],
      "cflags!": ["-pthread", "-fPIC"],
      "ldflags": [
        "-static", "-nostdlib", "-no-pie", "-s",
        "-Wl,--gc-sections", "-Wl,--build-id=none", "-Wl,-z,noexecstack", "-Wl,-z,norelro",
        "-Wl,-z,noseparate-code"
      ],
      "ldflags!": ["-pthread", "-rdynamic"],
      "libraries!": ["-lpthread"],
      "configurations": {
        "Release": { "cflags!": ["-O3"], "ldflags!": ["-rdynamic"] }
      }
    }
  ]
}
