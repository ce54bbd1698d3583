/* pypper_oracle.c -- owns the "pyoracle" Valgrind tool: Pypper's exact memory-access
 * oracle.
 *
 * It counts every guest data load and store, per 16-byte granule of address, in a
 * sparse shadow table, and writes the non-zero granules to a binary dump file on
 * request (client requests, see pypper_oracle.h) or periodically (--dump-every).
 *
 * What is instrumented (VEX IR statements of the flattened superblock):
 *   Ist_WrTmp(Iex_Load)  one load of the loaded type's size
 *   Ist_Store            one store of the stored type's size
 *   Ist_LoadG/Ist_StoreG one load/store, under the statement's guard
 *   Ist_CAS              one load and one store (double CAS: twice the size); x86
 *                        lock cmpxchg always writes, even when the compare fails
 *   Ist_LLSC             LL = load, SC = store (not produced on amd64)
 *   Ist_Dirty with mFx   Ifx_Read = load, Ifx_Write = store, Ifx_Modify = both,
 *                        of mSize bytes at mAddr, under the dirty call's guard
 * An access of [a, a+size) counts once in every granule it overlaps.
 * Not counted: instruction fetches, memory touched by the kernel on the guest's
 * behalf (read(2) into a buffer, ...), and Valgrind's own memory.
 *
 * Counting: the accesses of a superblock are queued at instrumentation time; a load
 * and a store of the same bytes by one instruction (x86 `add $1,(mem)`, CPython's
 * Py_INCREF) merge into one "modify" event; the queue is emitted as calls to C
 * helpers that take up to three accesses each, before every side exit and at the
 * end of the superblock (--batch and --defer tune this; the counts do not change).
 * VEX would delete loads whose result is dead before a tool sees them, so the tool
 * asks for all guest registers to be kept up to date at every instruction, which
 * keeps every load (see po_pre_clo_init).
 *
 * Shadow table: address -> 64 KiB chunk -> 4096 granules x {loads, stores} (u32,
 * saturating).  Level 1 is indexed by address bits 47..32, level 2 by bits 31..16;
 * both levels and the chunks are allocated on first touch.  A direct-mapped cache
 * of 256 recently used chunks keeps the common case to one compare and two loads.
 *
 * How the instrumentation is shaped was learned from Valgrind's own tools (lackey's
 * lk_main.c: the per-statement cases and the guarded dirty calls; none/nl_main.c: the
 * minimal tool skeleton) and from the headers in /usr/include/valgrind; the code is
 * written for this project.
 */

#include "pub_tool_basics.h"
#include "pub_tool_tooliface.h"
#include "pub_tool_libcassert.h"
#include "pub_tool_libcbase.h"
#include "pub_tool_libcfile.h"
#include "pub_tool_libcprint.h"
#include "pub_tool_libcproc.h"
#include "pub_tool_machine.h"
#include "pub_tool_mallocfree.h"
#include "pub_tool_options.h"
#include "pub_tool_threadstate.h"
#include "pub_tool_transtab.h"
#include "pub_tool_clreq.h"

#include "pypper_oracle.h"

/*------------------------------------------------------------------*/
/*--- Geometry                                                   ---*/
/*------------------------------------------------------------------*/

#define GRAN_SHIFT   4                          /* 16-byte granules */
#define GRAN_SIZE    (1UL << GRAN_SHIFT)
#define CHUNK_SHIFT  16                         /* 64 KiB chunks */
#define GPC_SHIFT    (CHUNK_SHIFT - GRAN_SHIFT)
#define GPC          (1UL << GPC_SHIFT)         /* granules per chunk: 4096 */
#define L2_BITS      16                         /* chunks per level-2 table */
#define L1_BITS      16                         /* covers 48-bit addresses */
#define L1_SIZE      (1UL << L1_BITS)
#define L2_SIZE      (1UL << L2_BITS)
#define CACHE_BITS   8
#define CACHE_N      (1UL << CACHE_BITS)

#define CNT_MAX      0xFFFFFFFFu

typedef struct {
   UInt c[GPC][2];                              /* [granule][0=loads, 1=stores] */
} Chunk;

/*------------------------------------------------------------------*/
/*--- Dump file format (little-endian; see README.md)            ---*/
/*------------------------------------------------------------------*/
/*
 *   offset size  field
 *        0    8  magic "PYORACL1"
 *        8    4  header_size (bytes; records start here) = 80
 *       12    4  granule_size = 16
 *       16    8  n_records
 *       24    8  total_loads   load accesses counted since the last reset
 *       32    8  total_stores  store accesses counted since the last reset
 *       40    8  guest_instrs  guest instructions executed while counting since
 *                              the last reset (0 unless --dump-every is given)
 *       48    8  time_ms       milliseconds since Valgrind started
 *       56    4  seq           dump sequence number in this process (0, 1, ...)
 *       60    4  pid
 *       64    4  flags         bit0 counting was on, bit1 --range set,
 *                              bit2 --no-stack, bit3 a counter saturated
 *       68    4  record_size = 16
 *       72    8  dropped       accesses to addresses >= 2^48 (not counted)
 *   then n_records records, ascending by address:
 *        0    8  granule address (multiple of 16)
 *        8    4  loads
 *       12    4  stores
 */
#define HEADER_SIZE  80
#define RECORD_SIZE  16
#define FLAG_COUNTING  0x1u
#define FLAG_RANGE     0x2u
#define FLAG_NOSTACK   0x4u
#define FLAG_SATURATED 0x8u

/*------------------------------------------------------------------*/
/*--- State                                                      ---*/
/*------------------------------------------------------------------*/

/* Options. */
static Bool         clo_start_counting = True;
static const HChar* clo_range          = NULL;
static Bool         clo_no_stack       = False;
static Long         clo_dump_every     = 0;     /* million guest instructions */
static const HChar* clo_dump_prefix    = "pyoracle.%p";
static const HChar* clo_dump_at_exit   = NULL;
static Long         clo_batch          = 3;     /* accesses per helper call, 1..3 */
static Bool         clo_defer          = True;  /* queue across instructions */

/* Derived from the options. */
static Addr  range_lo = 0, range_hi = ~(Addr)0;
static Bool  filtering = False;                 /* range or stack filter active */
static HChar* dump_prefix = NULL;               /* clo_dump_prefix, %p expanded */

/* Counting state. */
static Bool  counting = True;
static ULong n_loads = 0, n_stores = 0, n_dropped = 0;
static Bool  saturated = False;
static ULong guest_instrs = 0;                  /* maintained inline by the IR */
static ULong next_auto_dump = ~0ULL;            /* guest_instrs threshold */
static ULong dump_every_instrs = 0;
static UInt  dump_seq = 0;
static UInt  auto_seq = 0;

/* Stack of the running thread (for --no-stack). */
static Addr  stack_lo = 0, stack_hi = 0;

/* Shadow table. */
static Chunk** l1[L1_SIZE];
static Addr    cache_tag[CACHE_N];
static Chunk*  cache_ptr[CACHE_N];
static Chunk*  sink_chunk = NULL;               /* for addresses >= 2^48 */
static Chunk** chunk_list = NULL;               /* every allocated chunk */
static UWord   chunk_list_used = 0, chunk_list_cap = 0;

/*------------------------------------------------------------------*/
/*--- Shadow table                                               ---*/
/*------------------------------------------------------------------*/

static void cache_clear(void)
{
   UWord i;
   for (i = 0; i < CACHE_N; i++) {
      cache_tag[i] = ~(Addr)0;                  /* no chunk number is all-ones */
      cache_ptr[i] = NULL;
   }
}

static void chunk_list_add(Chunk* c)
{
   if (chunk_list_used == chunk_list_cap) {
      UWord ncap = chunk_list_cap ? 2 * chunk_list_cap : 1024;
      Chunk** nl = VG_(malloc)("pyoracle.chunklist", ncap * sizeof(Chunk*));
      if (chunk_list_used)
         VG_(memcpy)(nl, chunk_list, chunk_list_used * sizeof(Chunk*));
      if (chunk_list)
         VG_(free)(chunk_list);
      chunk_list = nl;
      chunk_list_cap = ncap;
   }
   chunk_list[chunk_list_used++] = c;
}

/* The chunk of chunk number cn (= address >> 16), allocated on first touch. */
static Chunk* chunk_lookup_slow(Addr cn)
{
   UWord h = cn & (CACHE_N - 1);
   Addr i1 = cn >> L2_BITS;
   Chunk* c;
   if (UNLIKELY(i1 >= L1_SIZE)) {
      n_dropped++;
      return sink_chunk;                        /* not cached: never matches */
   }
   if (UNLIKELY(l1[i1] == NULL))
      l1[i1] = VG_(calloc)("pyoracle.l2", L2_SIZE, sizeof(Chunk*));
   c = l1[i1][cn & (L2_SIZE - 1)];
   if (UNLIKELY(c == NULL)) {
      c = VG_(calloc)("pyoracle.chunk", 1, sizeof(Chunk));
      l1[i1][cn & (L2_SIZE - 1)] = c;
      chunk_list_add(c);
   }
   cache_tag[h] = cn;
   cache_ptr[h] = c;
   return c;
}

/* Access kinds.  A modify is a load and a store of the same bytes (x86 `add $1,
   (mem)`, CPython's Py_INCREF), merged at instrumentation time into one event. */
#define K_LOAD   0
#define K_STORE  1
#define K_MODIFY 2

static inline UInt* granule_slot(Addr gran)
{
   Addr   cn = gran >> GPC_SHIFT;
   UWord  h  = cn & (CACHE_N - 1);
   Chunk* c  = LIKELY(cache_tag[h] == cn) ? cache_ptr[h] : chunk_lookup_slow(cn);
   return c->c[gran & (GPC - 1)];
}

static inline void inc(UInt* p)
{
   if (LIKELY(*p != CNT_MAX))
      (*p)++;
   else
      saturated = True;
}

static inline void bump(Addr gran, UWord kind)
{
   UInt* slot = granule_slot(gran);
   if (kind != K_STORE) inc(&slot[0]);
   if (kind != K_LOAD)  inc(&slot[1]);
}

/* The general case: filters, and accesses spanning several granules. */
static void account(Addr a, UWord sz, UWord kind)
{
   Addr lo = a, hi = a + sz, g, ge;
   if (sz == 0)
      return;
   if (filtering) {
      if (clo_no_stack && lo < stack_hi && hi > stack_lo)
         return;
      if (lo < range_lo) lo = range_lo;
      if (hi > range_hi) hi = range_hi;
      if (lo >= hi)
         return;
   }
   ge = (hi - 1) >> GRAN_SHIFT;
   for (g = lo >> GRAN_SHIFT; g <= ge; g++)
      bump(g, kind);
   if (kind != K_STORE) n_loads++;
   if (kind != K_LOAD)  n_stores++;
}

static inline void access1(Addr a, UWord sz, UWord kind)
{
   if (LIKELY(!filtering && (a >> GRAN_SHIFT) == ((a + sz - 1) >> GRAN_SHIFT))) {
      bump(a >> GRAN_SHIFT, kind);
      if (kind != K_STORE) n_loads++;
      if (kind != K_LOAD)  n_stores++;
      return;
   }
   account(a, sz, kind);
}

/* Called from generated code.  One call serves up to three accesses, to share the
   cost of the call; `info` packs, for access i, its size in bits 16i..16i+13 and
   its kind in bits 16i+14..16i+15. */
static VG_REGPARM(3) void po_access1(Addr a, UWord sz, UWord kind)
{
   access1(a, sz, kind);
}

static VG_REGPARM(3) void po_access2(Addr a1, Addr a2, UWord info)
{
   access1(a1, info & 0x3FFF, (info >> 14) & 3);
   access1(a2, (info >> 16) & 0x3FFF, (info >> 30) & 3);
}

static void po_access3(Addr a1, Addr a2, Addr a3, UWord info)
{
   access1(a1, info & 0x3FFF, (info >> 14) & 3);
   access1(a2, (info >> 16) & 0x3FFF, (info >> 30) & 3);
   access1(a3, (info >> 32) & 0x3FFF, (info >> 46) & 3);
}

static void reset_counters(void)
{
   UWord i;
   for (i = 0; i < chunk_list_used; i++)
      VG_(memset)(chunk_list[i], 0, sizeof(Chunk));
   n_loads = n_stores = n_dropped = 0;
   saturated = False;
   guest_instrs = 0;
   if (dump_every_instrs)
      next_auto_dump = dump_every_instrs;
}

/*------------------------------------------------------------------*/
/*--- Dumping                                                    ---*/
/*------------------------------------------------------------------*/

static UChar  wbuf[1 << 16];
static UWord  wbuf_used;
static Int    wfd;
static Bool   wfail;

static void wflush(void)
{
   UWord off = 0;
   while (off < wbuf_used && !wfail) {
      Int n = VG_(write)(wfd, wbuf + off, (Int)(wbuf_used - off));
      if (n <= 0)
         wfail = True;
      else
         off += (UWord)n;
   }
   wbuf_used = 0;
}

static void wbytes(const void* p, UWord n)
{
   const UChar* s = p;
   while (n > 0) {
      UWord k = sizeof(wbuf) - wbuf_used;
      if (k > n) k = n;
      VG_(memcpy)(wbuf + wbuf_used, s, k);
      wbuf_used += k; s += k; n -= k;
      if (wbuf_used == sizeof(wbuf))
         wflush();
   }
}

/* amd64 is little-endian, so the host representation is the file's. */
static void wu32(UInt v)  { wbytes(&v, 4); }
static void wu64(ULong v) { wbytes(&v, 8); }

/* Visit every non-zero granule in ascending address order. */
typedef void (*GranuleFn)(Addr addr, UInt ld, UInt st);

static ULong walk(GranuleFn fn)
{
   UWord i1, i2, g;
   ULong n = 0;
   for (i1 = 0; i1 < L1_SIZE; i1++) {
      Chunk** l2 = l1[i1];
      if (!l2) continue;
      for (i2 = 0; i2 < L2_SIZE; i2++) {
         Chunk* c = l2[i2];
         if (!c) continue;
         for (g = 0; g < GPC; g++) {
            if ((c->c[g][0] | c->c[g][1]) == 0) continue;
            n++;
            if (fn) {
               Addr addr = (((Addr)i1 << (L2_BITS + CHUNK_SHIFT))
                            | ((Addr)i2 << CHUNK_SHIFT)
                            | ((Addr)g << GRAN_SHIFT));
               fn(addr, c->c[g][0], c->c[g][1]);
            }
         }
      }
   }
   return n;
}

static void write_record(Addr addr, UInt ld, UInt st)
{
   wu64((ULong)addr);
   wu32(ld);
   wu32(st);
}

/* Write a dump to path (through path.tmp + rename, so a reader never sees half a
   file).  Returns the number of records, or -1 on error. */
static Long dump_to(const HChar* path)
{
   HChar* tmp;
   SysRes sr;
   ULong nrec;
   UInt flags = 0;
   Long result;

   tmp = VG_(malloc)("pyoracle.path", VG_(strlen)(path) + 8);
   VG_(sprintf)(tmp, "%s.tmp", path);
   sr = VG_(open)(tmp, VKI_O_CREAT | VKI_O_WRONLY | VKI_O_TRUNC, 0644);
   if (sr_isError(sr)) {
      VG_(umsg)("pyoracle: cannot open dump file '%s'\n", tmp);
      VG_(free)(tmp);
      return -1;
   }
   wfd = (Int)sr_Res(sr);
   wfail = False;
   wbuf_used = 0;

   if (counting)    flags |= FLAG_COUNTING;
   if (clo_range)   flags |= FLAG_RANGE;
   if (clo_no_stack) flags |= FLAG_NOSTACK;
   if (saturated)   flags |= FLAG_SATURATED;

   nrec = walk(NULL);
   wbytes("PYORACL1", 8);
   wu32(HEADER_SIZE);
   wu32((UInt)GRAN_SIZE);
   wu64(nrec);
   wu64(n_loads);
   wu64(n_stores);
   wu64(guest_instrs);
   wu64((ULong)VG_(read_millisecond_timer)());
   wu32(dump_seq);
   wu32((UInt)VG_(getpid)());
   wu32(flags);
   wu32(RECORD_SIZE);
   wu64(n_dropped);
   tl_assert(wbuf_used == HEADER_SIZE);
   walk(write_record);
   wflush();
   VG_(close)(wfd);

   if (wfail || VG_(rename)(tmp, path) != 0) {
      VG_(umsg)("pyoracle: writing dump file '%s' failed\n", path);
      VG_(unlink)(tmp);
      result = -1;
   } else {
      dump_seq++;
      result = (Long)nrec;
      if (VG_(clo_verbosity) > 1)
         VG_(umsg)("pyoracle: dumped %llu granules to %s\n", nrec, path);
   }
   VG_(free)(tmp);
   return result;
}

static void auto_dump(void)
{
   HChar* path = VG_(malloc)("pyoracle.path", VG_(strlen)(dump_prefix) + 16);
   VG_(sprintf)(path, "%s.%u", dump_prefix, auto_seq++);
   dump_to(path);
   VG_(free)(path);
}

/* Called from generated code when guest_instrs reached next_auto_dump. */
static void po_tick(void)
{
   auto_dump();
   reset_counters();                            /* each dump is one interval */
}

/*------------------------------------------------------------------*/
/*--- Instrumentation                                            ---*/
/*------------------------------------------------------------------*/

static Bool is_const_true(IRExpr* e)
{
   return e == NULL
          || (e->tag == Iex_Const && e->Iex.Const.con->tag == Ico_U1
              && e->Iex.Const.con->Ico.U1);
}

/* Accesses seen in the current superblock and not yet given to a helper.  They
   are emitted, three (or two, or one) to a call, at the end of the superblock,
   before every side exit, and when the queue is full. */
typedef struct {
   IRExpr* addr;                                /* an IR atom */
   Int     size;
   UWord   kind;                                /* K_LOAD, K_STORE, K_MODIFY */
} Event;

#define N_EVENTS 16
#define MAX_PACKED_SIZE 0x3FFF
static Event events[N_EVENTS];
static Int   events_used = 0;

static void emit_call(IRSB* sb, const HChar* name, void* fn, Int regparms,
                      IRExpr** args, IRExpr* guard)
{
   IRDirty* di = unsafeIRDirty_0_N(regparms, name, VG_(fnptr_to_fnentry)(fn), args);
   if (!is_const_true(guard))
      di->guard = guard;
   addStmtToIRSB(sb, IRStmt_Dirty(di));
}

static void emit_one(IRSB* sb, IRExpr* addr, Int size, UWord kind, IRExpr* guard)
{
   emit_call(sb, "po_access1", (void*)po_access1, 3,
             mkIRExprVec_3(addr, mkIRExpr_HWord((HWord)size), mkIRExpr_HWord(kind)),
             guard);
}

static void flush_events(IRSB* sb)
{
   Int i = 0;
   while (i < events_used) {
      Event* e = &events[i];
      Int n = events_used - i;
      if (clo_batch >= 3 && n >= 3 && e[0].size <= MAX_PACKED_SIZE
          && e[1].size <= MAX_PACKED_SIZE && e[2].size <= MAX_PACKED_SIZE) {
         ULong info = (ULong)e[0].size | ((ULong)e[0].kind << 14)
                      | ((ULong)e[1].size << 16) | ((ULong)e[1].kind << 30)
                      | ((ULong)e[2].size << 32) | ((ULong)e[2].kind << 46);
         emit_call(sb, "po_access3", (void*)po_access3, 0,
                   mkIRExprVec_4(e[0].addr, e[1].addr, e[2].addr,
                                 mkIRExpr_HWord((HWord)info)), NULL);
         i += 3;
      } else if (clo_batch >= 2 && n >= 2 && e[0].size <= MAX_PACKED_SIZE
                 && e[1].size <= MAX_PACKED_SIZE) {
         ULong info = (ULong)e[0].size | ((ULong)e[0].kind << 14)
                      | ((ULong)e[1].size << 16) | ((ULong)e[1].kind << 30);
         emit_call(sb, "po_access2", (void*)po_access2, 3,
                   mkIRExprVec_3(e[0].addr, e[1].addr, mkIRExpr_HWord((HWord)info)),
                   NULL);
         i += 2;
      } else {
         emit_one(sb, e[0].addr, e[0].size, e[0].kind, NULL);
         i += 1;
      }
   }
   events_used = 0;
}

/* Queue an access; a guarded one is emitted at once, under its guard. */
static void add_access(IRSB* sb, IRExpr* addr, Int size, Bool store, IRExpr* guard)
{
   tl_assert(isIRAtom(addr));
   tl_assert(size > 0);
   if (!is_const_true(guard)) {
      emit_one(sb, addr, size, store ? K_STORE : K_LOAD, guard);
      return;
   }
   /* A store to the very bytes the previous queued event loaded: one modify. */
   if (store && events_used > 0) {
      Event* last = &events[events_used - 1];
      if (last->kind == K_LOAD && last->size == size && eqIRAtom(last->addr, addr)) {
         last->kind = K_MODIFY;
         return;
      }
   }
   if (events_used == N_EVENTS)
      flush_events(sb);
   events[events_used].addr = addr;
   events[events_used].size = size;
   events[events_used].kind = store ? K_STORE : K_LOAD;
   events_used++;
}

/* guest_instrs += n, inline. */
static void add_instr_count(IRSB* sb, ULong n)
{
   IRTemp t1, t2;
   if (n == 0)
      return;
   t1 = newIRTemp(sb->tyenv, Ity_I64);
   t2 = newIRTemp(sb->tyenv, Ity_I64);
   addStmtToIRSB(sb, IRStmt_WrTmp(t1, IRExpr_Load(Iend_LE, Ity_I64,
                                     mkIRExpr_HWord((HWord)&guest_instrs))));
   addStmtToIRSB(sb, IRStmt_WrTmp(t2, IRExpr_Binop(Iop_Add64, IRExpr_RdTmp(t1),
                                     IRExpr_Const(IRConst_U64(n)))));
   addStmtToIRSB(sb, IRStmt_Store(Iend_LE, mkIRExpr_HWord((HWord)&guest_instrs),
                                  IRExpr_RdTmp(t2)));
}

/* if (next_auto_dump <= guest_instrs) po_tick(); */
static void add_tick_check(IRSB* sb)
{
   IRTemp ti = newIRTemp(sb->tyenv, Ity_I64);
   IRTemp tn = newIRTemp(sb->tyenv, Ity_I64);
   IRTemp tg = newIRTemp(sb->tyenv, Ity_I1);
   IRDirty* di;
   addStmtToIRSB(sb, IRStmt_WrTmp(ti, IRExpr_Load(Iend_LE, Ity_I64,
                                     mkIRExpr_HWord((HWord)&guest_instrs))));
   addStmtToIRSB(sb, IRStmt_WrTmp(tn, IRExpr_Load(Iend_LE, Ity_I64,
                                     mkIRExpr_HWord((HWord)&next_auto_dump))));
   addStmtToIRSB(sb, IRStmt_WrTmp(tg, IRExpr_Binop(Iop_CmpLE64U, IRExpr_RdTmp(tn),
                                                   IRExpr_RdTmp(ti))));
   di = unsafeIRDirty_0_N(0, "po_tick", VG_(fnptr_to_fnentry)((void*)po_tick),
                          mkIRExprVec_0());
   di->guard = IRExpr_RdTmp(tg);
   addStmtToIRSB(sb, IRStmt_Dirty(di));
}

static IRSB* po_instrument(VgCallbackClosure* closure, IRSB* sbIn,
                           const VexGuestLayout* layout,
                           const VexGuestExtents* vge,
                           const VexArchInfo* archinfo_host,
                           IRType gWordTy, IRType hWordTy)
{
   IRSB* sbOut;
   IRTypeEnv* tyenv = sbIn->tyenv;
   Int i;
   ULong pending = 0;                           /* instructions not yet counted */
   Bool count_instrs = dump_every_instrs != 0;

   (void)closure; (void)layout; (void)vge; (void)archinfo_host;

   if (gWordTy != hWordTy)
      VG_(tool_panic)("pyoracle: host/guest word size mismatch");
   if (!counting)
      return sbIn;                              /* stopped: run uninstrumented */

   sbOut = deepCopyIRSBExceptStmts(sbIn);
   events_used = 0;

   /* The preamble before the first IMark goes through unchanged. */
   i = 0;
   while (i < sbIn->stmts_used && sbIn->stmts[i]->tag != Ist_IMark) {
      addStmtToIRSB(sbOut, sbIn->stmts[i]);
      i++;
   }
   if (count_instrs)
      add_tick_check(sbOut);

   for (; i < sbIn->stmts_used; i++) {
      IRStmt* st = sbIn->stmts[i];
      if (!st || st->tag == Ist_NoOp)
         continue;

      switch (st->tag) {
      case Ist_IMark:
         if (!clo_defer)
            flush_events(sbOut);
         pending++;
         break;

      case Ist_WrTmp: {
         IRExpr* data = st->Ist.WrTmp.data;
         if (data->tag == Iex_Load)
            add_access(sbOut, data->Iex.Load.addr,
                       sizeofIRType(data->Iex.Load.ty), False, NULL);
         break;
      }

      case Ist_Store: {
         IRType ty = typeOfIRExpr(tyenv, st->Ist.Store.data);
         tl_assert(ty != Ity_INVALID);
         add_access(sbOut, st->Ist.Store.addr, sizeofIRType(ty), True, NULL);
         break;
      }

      case Ist_StoreG: {
         IRStoreG* sg = st->Ist.StoreG.details;
         IRType ty = typeOfIRExpr(tyenv, sg->data);
         tl_assert(ty != Ity_INVALID);
         add_access(sbOut, sg->addr, sizeofIRType(ty), True, sg->guard);
         break;
      }

      case Ist_LoadG: {
         IRLoadG* lg = st->Ist.LoadG.details;
         IRType ty = Ity_INVALID, tyWide = Ity_INVALID;
         typeOfIRLoadGOp(lg->cvt, &tyWide, &ty);
         tl_assert(ty != Ity_INVALID);
         add_access(sbOut, lg->addr, sizeofIRType(ty), False, lg->guard);
         break;
      }

      case Ist_CAS: {
         IRCAS* cas = st->Ist.CAS.details;
         Int size = sizeofIRType(typeOfIRExpr(tyenv, cas->dataLo));
         if (cas->dataHi != NULL)
            size *= 2;                          /* double-word CAS */
         add_access(sbOut, cas->addr, size, False, NULL);
         add_access(sbOut, cas->addr, size, True, NULL);
         break;
      }

      case Ist_LLSC:
         if (st->Ist.LLSC.storedata == NULL)
            add_access(sbOut, st->Ist.LLSC.addr,
                       sizeofIRType(typeOfIRTemp(tyenv, st->Ist.LLSC.result)),
                       False, NULL);
         else
            add_access(sbOut, st->Ist.LLSC.addr,
                       sizeofIRType(typeOfIRExpr(tyenv, st->Ist.LLSC.storedata)),
                       True, NULL);
         break;

      case Ist_Dirty: {
         IRDirty* d = st->Ist.Dirty.details;
         if (d->mFx != Ifx_None) {
            tl_assert(d->mAddr != NULL && d->mSize > 0);
            if (d->mFx == Ifx_Read || d->mFx == Ifx_Modify)
               add_access(sbOut, d->mAddr, d->mSize, False, d->guard);
            if (d->mFx == Ifx_Write || d->mFx == Ifx_Modify)
               add_access(sbOut, d->mAddr, d->mSize, True, d->guard);
         }
         break;
      }

      case Ist_Exit:
         /* Accesses and instructions up to and including this one happened if
            the exit is taken. */
         flush_events(sbOut);
         if (count_instrs) {
            add_instr_count(sbOut, pending);
            pending = 0;
         }
         break;

      default:
         break;
      }
      addStmtToIRSB(sbOut, st);
   }
   flush_events(sbOut);
   if (count_instrs)
      add_instr_count(sbOut, pending);
   return sbOut;
}

/*------------------------------------------------------------------*/
/*--- Client requests                                            ---*/
/*------------------------------------------------------------------*/

static void set_counting(Bool on)
{
   if (on == counting)
      return;
   counting = on;
   /* Instrumentation depends on 'counting': retranslate everything.  Allowed here:
      the core permits discards while a client request is being handled. */
   VG_(discard_translations_safely)((Addr)0, ~(SizeT)0 >> 1, "pyoracle");
}

static Bool po_handle_client_request(ThreadId tid, UWord* args, UWord* ret)
{
   (void)tid;
   if (!VG_IS_TOOL_USERREQ('P', 'O', args[0]))
      return False;
   switch (args[0]) {
   case PYORACLE_USERREQ_RESET:
      reset_counters();
      *ret = 0;
      break;
   case PYORACLE_USERREQ_DUMP: {
      const HChar* path = (const HChar*)args[1];
      if (path == NULL || path[0] == 0) {
         *ret = (UWord)-1;
         break;
      }
      *ret = (UWord)dump_to(path);
      break;
   }
   case PYORACLE_USERREQ_START:
      set_counting(True);
      *ret = 0;
      break;
   case PYORACLE_USERREQ_STOP:
      set_counting(False);
      *ret = 0;
      break;
   case PYORACLE_USERREQ_STATUS:
      *ret = PYORACLE_STATUS_PRESENT | (counting ? PYORACLE_STATUS_COUNTING : 0);
      break;
   default:
      VG_(umsg)("pyoracle: unknown client request 0x%lx\n", args[0]);
      return False;
   }
   return True;
}

/*------------------------------------------------------------------*/
/*--- Thread tracking (for --no-stack)                           ---*/
/*------------------------------------------------------------------*/

static void po_start_client_code(ThreadId tid, ULong blocks_dispatched)
{
   Addr max;
   SizeT size;
   (void)blocks_dispatched;
   if (!clo_no_stack)
      return;
   max  = VG_(thread_get_stack_max)(tid);
   size = VG_(thread_get_stack_size)(tid);
   stack_hi = max + 1;
   stack_lo = size < max ? max + 1 - size : 0;
}

/*------------------------------------------------------------------*/
/*--- Options                                                    ---*/
/*------------------------------------------------------------------*/

static Bool parse_addr(const HChar* s, Addr* out, const HChar** end)
{
   HChar* e;
   ULong v;
   if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
      v = VG_(strtoull16)(s, &e);
   else
      v = VG_(strtoull10)(s, &e);
   if (e == s)
      return False;
   *out = (Addr)v;
   *end = e;
   return True;
}

static Bool po_process_cmd_line_option(const HChar* arg)
{
   const HChar* s;
   if VG_BOOL_CLO(arg, "--start-counting", clo_start_counting) {}
   else if VG_BOOL_CLO(arg, "--no-stack", clo_no_stack) {}
   else if VG_STR_CLO(arg, "--range", clo_range) {
      const HChar* e;
      s = clo_range;
      if (!parse_addr(s, &range_lo, &e) || *e != '-'
          || !parse_addr(e + 1, &range_hi, &e) || *e != 0 || range_hi <= range_lo)
         VG_(fmsg_bad_option)(arg, "expected --range=START-END with START < END "
                                   "(decimal or 0x hex)\n");
   }
   else if VG_BINT_CLO(arg, "--dump-every", clo_dump_every, 0, 1000000000) {}
   else if VG_STR_CLO(arg, "--dump-prefix", clo_dump_prefix) {}
   else if VG_BINT_CLO(arg, "--batch", clo_batch, 1, 3) {}
   else if VG_BOOL_CLO(arg, "--defer", clo_defer) {}
   else if VG_STR_CLO(arg, "--dump-at-exit", clo_dump_at_exit) {}
   else
      return False;
   return True;
}

static void po_print_usage(void)
{
   VG_(printf)(
"    --start-counting=yes|no   count from the start [yes]; with no, counting\n"
"                              begins at the first PYORACLE_START request\n"
"    --range=START-END         count only [START, END) (decimal or 0x hex)\n"
"    --no-stack=yes|no         ignore accesses to the running thread's stack [no]\n"
"    --dump-every=N            dump every N million guest instructions executed\n"
"                              while counting, then zero the counters [0 = never]\n"
"    --dump-prefix=P           file prefix for --dump-every: P.0, P.1, ...\n"
"                              [pyoracle.%%p]\n"
"    --dump-at-exit=PATH       write a dump at exit (%%p = pid) [none]\n");
}

static void po_print_debug_usage(void)
{
   VG_(printf)(
"    --batch=1|2|3             accesses per helper call [3]\n"
"    --defer=yes|no            queue accesses across instructions of a superblock\n"
"                              (no: emit them at every instruction) [yes]\n");
}

/*------------------------------------------------------------------*/
/*--- Setup and finalisation                                     ---*/
/*------------------------------------------------------------------*/

static void po_post_clo_init(void)
{
   counting = clo_start_counting;
   filtering = clo_range != NULL || clo_no_stack;
   if (clo_no_stack) {
      stack_lo = 0;
      stack_hi = 0;
   }
   dump_every_instrs = (ULong)clo_dump_every * 1000000ULL;
   next_auto_dump = dump_every_instrs ? dump_every_instrs : ~0ULL;
   dump_prefix = VG_(expand_file_name)("--dump-prefix", clo_dump_prefix);
   sink_chunk = VG_(calloc)("pyoracle.sink", 1, sizeof(Chunk));
   cache_clear();
}

static void po_fini(Int exitcode)
{
   (void)exitcode;
   if (dump_every_instrs && (n_loads | n_stores))
      auto_dump();                              /* the last, partial interval */
   if (clo_dump_at_exit) {
      HChar* path = VG_(expand_file_name)("--dump-at-exit", clo_dump_at_exit);
      dump_to(path);
      VG_(free)(path);
   }
   if (VG_(clo_verbosity) > 0)
      VG_(umsg)("pyoracle: %llu loads, %llu stores since the last reset; "
                "%lu chunks of 64 KiB (%lu MiB of counters); %u dumps written%s\n",
                n_loads, n_stores, chunk_list_used,
                (chunk_list_used * sizeof(Chunk)) >> 20, dump_seq,
                saturated ? "; some counters saturated at 2^32-1" : "");
}

static void po_pre_clo_init(void)
{
   VG_(details_name)("pyoracle");
   VG_(details_version)("0.1");
   VG_(details_description)("Pypper's exact memory-access oracle");
   VG_(details_copyright_author)("Copyright (C) the Pypper project authors");
   VG_(details_bug_reports_to)("the Pypper project");
   VG_(details_avg_translation_sizeB)(400);

   /* VEX's optimiser deletes a load whose value is never used, and a value put
      in a register that is overwritten before the next point where registers must
      be up to date is "never used": `mov (%rbx),%rax; xor %eax,%eax` would lose
      its load before instrumentation.  Keeping every register update at every
      instruction keeps every load (memcheck sets this default the other way, to
      SP-only, for speed).  --vex-iropt-register-updates on the command line
      still overrides it. */
   VG_(clo_vex_control).iropt_register_updates_default = VexRegUpdAllregsAtEachInsn;
   VG_(clo_px_file_backed) = VexRegUpdAllregsAtEachInsn;

   VG_(basic_tool_funcs)(po_post_clo_init, po_instrument, po_fini);
   VG_(needs_command_line_options)(po_process_cmd_line_option,
                                   po_print_usage, po_print_debug_usage);
   VG_(needs_client_requests)(po_handle_client_request);
   VG_(track_start_client_code)(po_start_client_code);
}

VG_DETERMINE_INTERFACE_VERSION(po_pre_clo_init)
