/* Python/held_numbers.c: the heat a list or tuple with evidence passes to the numbers
 * it holds (held_numbers.h), at the hand-over. Reads the containers' item arrays (only
 * resident pages) and the numbers' types. */
#define Py_BUILD_CORE 1
#include "held_numbers.h"

#include "../Objects/heap.h"
#include "../Objects/heap_pages.h"
#include "../Objects/residency.h"
#include "seq_items.h"
#include "../Pypper/page_heat.h"
#include "../Pypper/temperature.h"
#include "../Pypper/code_size.h"

static uint64_t number_heat;            /* samples that heated pages */
static uint64_t turn;                   /* the hand-over's number */
static size_t number_budget;            /* what is left of NUMBER_BUDGET */

/* Numbers that a list or tuple holds have no entry (LIVE_NUMBERS=0) and are read by C
 * code (sum(), slicing, sorting) that the frames never show: they take heat from the
 * container that holds them, as owned buffers do. Each sighting of the container
 * stands for one use of one of its n items, which one unknown, and each item takes
 * 1/n of it, as the traced items of a scanned container do (scan_groups.h):
 *  - a read of the frames that finds it handed to C code that may read all its items
 *    (SCAN, frame_reader.h; when that is at least SCAN_MIN_SHARE of its sightings,
 *    Python/active_trace.c). Such reads come in proportion to the time the scan
 *    takes, about the same per item read as Python code's reads: max() over 100,000
 *    floats reads an item in 10 ns, sum() in 6 (3.12.1 here);
 *  - any other sighting, at its weight: a new one is a use of the container (seq[i],
 *    random.choice, a call with it), which reads one item. A loop `if col[i] > t`
 *    pushes col for about 10 ns of its 30 ns an item;
 *  - a move of its reference count, at its weight, within the share of the
 *    sightings that were not scans.
 * A container that no frame showed (its reference count alone moved) passes nothing
 * on. A poll's "moved" says that it was used, not how much: a list walked thousands of
 * times a second and one walked twice a second both move between two polls. Counted as
 * uses, the reference counts of a newcomer's BFS's seldom-walked adjacency lists
 * (seen between the frames' reads) heated their ids as much as the community's walks:
 * 6.6-17.7 MiB of them hot in 4 runs, as a use of each item 0.9-7.9 MiB in 3 runs,
 * against 0.4 MiB truly hot (2026-12-06). So numbers of a container that only another
 * thread reads stay cold (as other threads' data get no frame evidence; README).
 * Until 2026-12-06 a scan's share of the container's evidence stood for as much on
 * each item: one sighting of a max() call gave each of 100,000 floats the heat of the
 * list, one of `col[i]` each a 100,000th of it, and a newcomer's column store whose
 * query read 3 hot columns by index and handed one to max() had that column hot and
 * the other two cold (its pages, 10,000 times hotter, set the pages' scale). Before
 * 2026-12-04 all the evidence did: a newcomer's BFS built its graph with
 * rnd.choice(rest), whose frames show `rest` 2,000-4,000 times per 100 ms, and the
 * 48,000 numbers of rest, never read again, stayed hot for seconds after the build.
 * NUMBER_SAMPLES items spread
 * evenly (from a rotating start) each carry the stride of n / NUMBER_SAMPLES items
 * that follows them. Where the next sample (the last item, after the last sample)
 * lies a plausible distance after it (the stride's items packed, with room for as
 * much again), the stride's items are taken to lie between the two and their heat
 * is spread evenly over those bytes, each page taking its part: a column of floats
 * built in one go heats its pages evenly, as its items are. Otherwise (items
 * scattered) the sample's page alone takes at most a page full of items at the
 * item's heat. Bounded per hand-over (items read plus pages heated); nothing the
 * pageout backend sent to swap is read. */
#define NUMBER_SAMPLES 32
#define NUMBER_BUDGET 8192      /* items looked at and pages heated per hand-over */
#define NUMBER_BLOCK_BYTES 32u  /* a float's block, an int's below 2^60 */
#define PAGE_BYTES 4096u

/* The address of the number in slot i of items (a slot whose page the pageout backend
 * sent to swap is not read), or 0 when it is none worth heating. */
static uintptr_t number_at(PyObject *const *items, Py_ssize_t i)
{
    if (!pypper_residency_may_touch(&items[i]))
        return 0;
    PyObject *item = items[i];
    if (!item || _Py_IsImmortal(item) || !pypper_residency_may_touch(item)
        || !(PyFloat_CheckExact(item) || PyLong_CheckExact(item)) || !pypper_heap_owns(item))
        return 0;
    return (uintptr_t)item;
}

/* `share` of heat spread over the bytes [from, to), each page taking its part. */
static void spread(uintptr_t from, uintptr_t to, double share, uint32_t now, size_t *budget)
{
    double per_byte = share / (double)(to - from);
    for (uintptr_t a = from; a < to && *budget; (*budget)--) {
        uintptr_t stop = (a & ~(uintptr_t)(PAGE_BYTES - 1)) + PAGE_BYTES;
        if (stop > to)
            stop = to;
        pypper_page_heat_add(pypper_heap_page_index((const void *)a), per_byte * (double)(stop - a), now, true);
        a = stop;
    }
}

PYPPER_SMALL_CODE void pypper_held_numbers_heat(PyObject *op, double uses, uint32_t now)
{
    PyObject *const *items;
    Py_ssize_t n;
    size_t *budget = &number_budget;
    if (!pypper_seq_items(op, &items, &n))
        return;
    double heat = n > 0 ? uses / (double)n : 0.0;             /* on each item */
    if (n <= 0 || !(heat > 0.0) || *budget <= NUMBER_SAMPLES + 1)
        return;
    Py_ssize_t k = n < NUMBER_SAMPLES ? n : NUMBER_SAMPLES, stride = n / k;
    /* One item per stride, at an offset that moves through the stride pseudo-randomly
     * from one hand-over to the next (so every page of a long list takes its turn). */
    Py_ssize_t offset = (Py_ssize_t)((turn * 2654435761u) % (uint64_t)stride);
    uintptr_t at[NUMBER_SAMPLES + 1];
    for (Py_ssize_t j = 0; j < k; j++)
        at[j] = number_at(items, offset + j * stride);
    at[k] = number_at(items, n - 1);
    *budget -= (size_t)k + 1;
    double share = heat * (double)stride;
    /* The stride's items packed, and as much again for what lies between. */
    uintptr_t reach = 2 * (uintptr_t)stride * NUMBER_BLOCK_BYTES;
    for (Py_ssize_t j = 0; j < k && *budget; j++) {
        if (!at[j])
            continue;
        uintptr_t next = at[j + 1];
        if (next > at[j] && next - at[j] <= reach) {
            spread(at[j], next, share, now, budget);
        } else {
            double cap = heat * (PAGE_BYTES / NUMBER_BLOCK_BYTES);
            pypper_page_heat_add(pypper_heap_page_index((const void *)at[j]), share < cap ? share : cap, now, true);
            (*budget)--;
        }
        number_heat++;
    }
}

void pypper_held_numbers_begin(uint64_t hand_over)
{
    turn = hand_over;
    number_budget = NUMBER_BUDGET;
}

uint64_t pypper_held_numbers_heated(void) { return number_heat; }

void pypper_held_numbers_reset(void) { number_heat = 0; }
