# Convenience targets; the README's two commands are scripts/quickstart.sh and scripts/test.sh.
.PHONY: quickstart test build bench clean

quickstart:
	scripts/quickstart.sh

test:
	scripts/test.sh

build:
	scripts/build.sh

bench:
	scripts/bench.sh

clean:
	rm -rf .build .build-x86-64-v3 .build-x86-64-v4
