"""A minimal PNG writer and a pixel canvas to draw on (standard library only).

``write_png`` encodes 8-bit RGB images (colour type 2, no interlace): every row goes
out with filter type 0 (None) into one zlib-compressed IDAT chunk, each chunk with its
CRC. ``Canvas`` is an RGB pixel buffer with rectangles, single pixels, whole rows and
text in a built-in 5x7 bitmap font (digits, upper and lower case letters and common
punctuation; any other character is drawn as '?').
"""

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"

GLYPH_WIDTH = 5
GLYPH_HEIGHT = 7
#: Horizontal advance of one character at scale 1 (the glyph plus one blank column).
ADVANCE = GLYPH_WIDTH + 1

# Each glyph is 7 rows, top to bottom, two hex digits a row: the 5 low bits of a row
# are its pixels, 0x10 the leftmost.
_FONT_HEX = {
    " ": "00000000000000", "0": "0E11131519110E", "1": "040C040404040E",
    "2": "0E11010204081F", "3": "1F02040201110E", "4": "02060A121F0202",
    "5": "1F101E0101110E", "6": "0608101E11110E", "7": "1F010204080808",
    "8": "0E11110E11110E", "9": "0E11110F01020C",
    "A": "0E1111111F1111", "B": "1E11111E11111E", "C": "0E11101010110E",
    "D": "1C12111111121C", "E": "1F10101E10101F", "F": "1F10101E101010",
    "G": "0E11101711110F", "H": "1111111F111111", "I": "0E04040404040E",
    "J": "0702020202120C", "K": "11121418141211", "L": "1010101010101F",
    "M": "111B1515111111", "N": "11111915131111", "O": "0E11111111110E",
    "P": "1E11111E101010", "Q": "0E11111115120D", "R": "1E11111E141211",
    "S": "0F10100E01011E", "T": "1F040404040404", "U": "1111111111110E",
    "V": "11111111110A04", "W": "1111111515150A", "X": "11110A040A1111",
    "Y": "1111110A040404", "Z": "1F01020408101F",
    "a": "00000E010F110F", "b": "1010161911111E", "c": "00000E1010110E",
    "d": "01010D1311110F", "e": "00000E111F100E", "f": "0609081C080808",
    "g": "00000F110F010E", "h": "10101619111111", "i": "04000C0404040E",
    "j": "0200060202120C", "k": "10101214181412", "l": "0C04040404040E",
    "m": "00001A15151111", "n": "00001619111111", "o": "00000E1111110E",
    "p": "00001E111E1010", "q": "00000D130F0101", "r": "00001619101010",
    "s": "00000E100E011E", "t": "08081C08080906", "u": "0000111111130D",
    "v": "00001111110A04", "w": "0000111115150A",
    "x": "0000110A040A11", "y": "000011110F010E", "z": "00001F0204081F",
    ".": "00000000000C0C", ",": "000000000C0408", "-": "0000001F000000",
    "_": "0000000000001F", ":": "000C0C000C0C00", ";": "000C0C000C0408",
    "/": "00010204081000", "%": "18190204081303", "(": "02040808080402",
    ")": "08040202020408", "[": "0E08080808080E", "]": "0E02020202020E",
    "+": "0004041F040400", "=": "00001F001F0000", "<": "02040810080402",
    ">": "08040201020408", "?": "0E110102040004", "!": "04040404000004",
    "'": "0C040800000000", '"': "0A0A0A00000000", "#": "0A0A1F0A1F0A0A",
    "*": "0004150E150400", "|": "04040404040404", "@": "0E11010D15150E",
}

FONT = {ch: tuple(int(h[i:i + 2], 16) for i in range(0, 14, 2)) for ch, h in _FONT_HEX.items()}


def text_width(text, scale=1):
    """Width in pixels of `text` drawn at `scale` (no trailing blank column)."""
    return max(len(text) * ADVANCE - 1, 0) * scale


def _chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def encode_png(width, height, rows):
    """The bytes of an 8-bit RGB PNG; `rows` holds `height` rows of width*3 bytes."""
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        raise ValueError(f"bad PNG size {width}x{height}")
    rows = list(rows)
    if len(rows) != height:
        raise ValueError(f"{len(rows)} rows for a PNG {height} pixels high")
    stride = width * 3
    raw = bytearray()
    for y, row in enumerate(rows):
        if len(row) != stride:
            raise ValueError(f"row {y} has {len(row)} bytes, expected {stride}")
        raw.append(0)               # filter type 0: the row as it is
        raw += row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9))
            + _chunk(b"IEND", b""))


def write_png(path, width, height, rows):
    """Write an 8-bit RGB PNG file (see encode_png)."""
    data = encode_png(width, height, rows)
    with open(path, "wb") as f:
        f.write(data)


class Canvas:
    """An RGB image in memory; (0, 0) is the top left pixel. Drawing outside is clipped.
    Colours are (r, g, b) tuples of 0-255."""

    def __init__(self, width, height, background=(255, 255, 255)):
        if width <= 0 or height <= 0:
            raise ValueError(f"bad canvas size {width}x{height}")
        self.width = width
        self.height = height
        self._pixels = bytearray(bytes(background) * (width * height))

    def set_pixel(self, x, y, color):
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * 3
            self._pixels[i:i + 3] = bytes(color)

    def get_pixel(self, x, y):
        i = (y * self.width + x) * 3
        return tuple(self._pixels[i:i + 3])

    def fill_rect(self, x, y, w, h, color):
        x0, x1 = max(x, 0), min(x + w, self.width)
        y0, y1 = max(y, 0), min(y + h, self.height)
        if x0 >= x1:
            return
        span = bytes(color) * (x1 - x0)
        for row in range(y0, y1):
            i = (row * self.width + x0) * 3
            self._pixels[i:i + len(span)] = span

    def put_row(self, x, y, data):
        """Copy `data` (RGB bytes, 3 per pixel) onto row y starting at column x."""
        if not 0 <= y < self.height:
            return
        first = max(-x, 0)
        count = min(len(data) // 3 - first, self.width - x - first)
        if count > 0:
            i = (y * self.width + x + first) * 3
            self._pixels[i:i + count * 3] = data[first * 3:(first + count) * 3]

    def draw_text(self, x, y, text, color=(0, 0, 0), scale=1):
        """Draw `text` with its top left corner at (x, y); returns its width."""
        for n, ch in enumerate(text):
            left = x + n * ADVANCE * scale
            for row, bits in enumerate(FONT.get(ch, FONT["?"])):
                for col in range(GLYPH_WIDTH):
                    if bits & (0x10 >> col):
                        self.fill_rect(left + col * scale, y + row * scale, scale, scale, color)
        return text_width(text, scale)

    def rows(self):
        stride = self.width * 3
        return [bytes(self._pixels[y * stride:(y + 1) * stride]) for y in range(self.height)]

    def save(self, path):
        write_png(path, self.width, self.height, self.rows())
