#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""bin2c.py IN OUT NAME: emit a C file defining `const uint8_t NAME[]` and `NAME_len`."""
import sys

src, dst, name = sys.argv[1:4]
data = open(src, 'rb').read()
with open(dst, 'w') as f:
    f.write('/* Generated from %s by scripts/bin2c.py. */\n' % src.split('/')[-1])
    f.write('#include <stddef.h>\n#include <stdint.h>\n')
    f.write('extern const uint8_t %s[];\nextern const size_t %s_len;\n' % (name, name))
    f.write('const uint8_t %s[] = {\n' % name)
    for i in range(0, len(data), 12):
        f.write('\t' + ' '.join('0x%02x,' % b for b in data[i:i + 12]) + '\n')
    f.write('};\nconst size_t %s_len = %d;\n' % (name, len(data)))
