// skiff-runtime: a runc-compatible OCI runtime CLI. Parsing and printing only.
#include <cstdio>

int main(int argc, char** argv) {
  (void)argc;
  (void)argv;
  std::puts("skiff-runtime version 0.1.0");
  return 0;
}
