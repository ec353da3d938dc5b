// skiff-probe: runs inside test containers and prints what it sees.
#include <cstdio>
int main() { std::puts("probe"); return 0; }
