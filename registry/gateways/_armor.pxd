# C types for registry/gateways/_armor.py when the wheel compiles it with Cython (setup.py,
# GATEWAY_MODULES); the .py stays the source and runs as it stands without this file.
# The CRC register is an unsigned 32-bit int (every left shift is masked to 32 bits or
# shifts out of it); the bytes objects are read, and the bytearray written, through unsigned
# char pointers whose objects the function holds; offsets are Py_ssize_t.
import cython

cdef unsigned int _INIT, _POLY32, _MASK32

@cython.locals(k=Py_ssize_t)
cdef unsigned int _word(const unsigned char *t, Py_ssize_t k) noexcept nogil

@cython.locals(tables=bytes, t=cython.p_uchar, p=cython.p_uchar, n=Py_ssize_t, i=Py_ssize_t,
               reg=cython.uint)
cpdef unsigned int crc24(bytes data) except? 0xFFFFFFFF

@cython.locals(n=Py_ssize_t, chars=Py_ssize_t, size=Py_ssize_t, buf=bytearray, o=cython.p_uchar,
               p=cython.p_uchar, alphabet=bytes, a=cython.p_uchar, head=bytes, tail=bytes,
               j=Py_ssize_t, i=Py_ssize_t, full=Py_ssize_t, col=Py_ssize_t, b0=cython.uint, b1=cython.uint, b2=cython.uint,
               crc=cython.uint)
cpdef bytes armor_public_keys(bytes data)
