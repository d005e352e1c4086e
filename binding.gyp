# Alternative build of the same sources with node-gyp (`npx node-gyp rebuild`). CMakeLists.txt is the build that
# `npm install` runs; test/build/sources.test.ts fails if the source lists of the two drift.
{
  'target_defaults': {
    'cflags_cc!': ['-fno-exceptions'],
    'cflags_cc': ['-std=c++17', '-O3', '-fno-math-errno', '-ffp-contract=off', '-fexceptions'],
    'include_dirs': ["<!(node -p \"require('node-addon-api').include_dir\")", 'native'],
    'defines': ['NAPI_VERSION=8', 'NAPI_CPP_EXCEPTIONS', 'NODE_ADDON_API_DISABLE_DEPRECATED'],
  },
  'targets': [
    {
      'target_name': 'arq_avx2',
      'type': 'static_library',
      'cflags_cc': ['-mavx2', '-mfma', '-mf16c', '-fPIC'],
      'sources': [
        'native/kernels/f32-gemm/6x16-avx2.cc',
        'native/kernels/f32-dwconv/c8-avx2.cc',
      ],
    },
    {
      'target_name': 'arq_avx512',
      'type': 'static_library',
      'cflags_cc': ['-mavx2', '-mfma', '-mf16c', '-mavx512f', '-mavx512bw', '-mavx512vl', '-mavx512dq', '-mavx512vnni', '-fPIC'],
      'sources': [
        'native/kernels/f32-gemm/8x32-avx512.cc',
        'native/kernels/f32-dwconv/c16-avx512.cc',
      ],
    },
    {
      'target_name': 'arq',
      'dependencies': ['arq_avx2', 'arq_avx512'],
      'sources': [
        'native/addon.cc',
        'native/common/cpu.cc',
        'native/common/thread_pool.cc',
        'native/engine/float_plan.cc',
        'native/engine/bind.cc',
        'native/kernels/bind.cc',
        'native/kernels/f32-gemm/config.cc',
        'native/kernels/f32-gemm/pack.cc',
        'native/kernels/f32-gemm/scalar.cc',
        'native/kernels/f32-dwconv/config.cc',
        'native/kernels/f32-dwconv/scalar.cc',
      ],
    },
  ],
}
