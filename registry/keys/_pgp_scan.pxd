# C types for registry/keys/_pgp_scan.py when the wheel compiles it with Cython (setup.py,
# OPENPGP_MODULES); the .py stays the source and runs as it stands without this file.
# Every integer typed here is at least as wide as the values it holds: offsets and lengths
# Py_ssize_t (lengths are at most 32 bits, bodies at most MAX_CERT_INPUT), octets int, and
# 32-bit fields read by _u32 into an unsigned 64-bit accumulator (never C int shifts: a
# creation time after 2038 would read negative; tests/keys/test_openpgp_load.py checks).
import cython

cdef bytes _SUMMARISED

@cython.locals(value=cython.ulonglong)
cdef unsigned long long _u32(bytes data, Py_ssize_t pos) except? 0

@cython.locals(end=Py_ssize_t, version=int, created=cython.ulonglong, algo=int,
               pos=Py_ssize_t, start=Py_ssize_t, oid_len=Py_ssize_t, oid_end=Py_ssize_t,
               kdf_end=Py_ssize_t, size=Py_ssize_t)
cpdef tuple _key_fields(bytes body)

@cython.locals(end=Py_ssize_t, version=int, width=Py_ssize_t, pos=Py_ssize_t,
               area_end=Py_ssize_t, hashed_end=Py_ssize_t, created=cython.ulonglong,
               seen_created=bint, fpr_at=Py_ssize_t, fpr_end=Py_ssize_t, kid_at=Py_ssize_t,
               kid_end=Py_ssize_t, hashed=bint, length=Py_ssize_t, at=Py_ssize_t, t=int,
               salt_at=Py_ssize_t)
cpdef tuple _frame_signature(bytes body, int depth, tuple spans=*)

@cython.locals(fpr_at=Py_ssize_t, fpr_end=Py_ssize_t, kid_at=Py_ssize_t,
               kid_end=Py_ssize_t, i=Py_ssize_t, by_primary=bint, frame=tuple)
cdef tuple _scan_signature(bytes body, bytes fpr, bytes kid, int depth)

cpdef tuple _key_digest(int version, bytes body)

@cython.locals(primary_tag=int, tag=int, body_start=Py_ssize_t, body_end=Py_ssize_t,
               is_attr=bint)
cpdef tuple scan_packets(bytes data, spans=*)

@cython.locals(start=Py_ssize_t, ctb=int, tag=int, first=int, length=Py_ssize_t, new=bint,
               ltype=int, size=Py_ssize_t)
cdef tuple _span_at(bytes data, Py_ssize_t pos, Py_ssize_t end)

@cython.locals(sig_type=int, by_primary=bint)
cpdef bint has_self_signature(key_sigs, uids) except -1

@cython.locals(newest_type=int, newest_created=cython.ulonglong, created=cython.ulonglong,
               sig_type=int, certified=bint, by_primary=bint, attribute=bint, out=list)
cpdef list user_id_states(uids)

cpdef tuple load_summary(bytes data, spans=*)
