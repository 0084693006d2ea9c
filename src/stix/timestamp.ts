const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
const DAY_MS = 86400000

/** Days since 1970-01-01 of a proleptic Gregorian date (month 1-12). */
function daysFromCivil (year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const mp = (month + 9) % 12
  const doy = Math.floor((153 * mp + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

/** The number written by `count` ASCII digits at `at`, or -1 if any of them is not a digit. */
function digits (s: string, at: number, count: number): number {
  let n = 0
  for (let i = at; i < at + count; i++) {
    const d = s.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

/** An instant as whole epoch milliseconds and the microseconds within that millisecond. */
export interface StixInstant {
  ms: number
  us: number
}

/**
 * Reads an RFC 3339 timestamp (`2016-05-12T08:17:27.000Z`, or with an offset such as `+02:00`)
 * into whole epoch milliseconds and microseconds, offsets converted to UTC and digits past the
 * microsecond dropped. Null for anything else, including days that do not exist (Date.parse
 * would accept 2021-02-30). Hand-rolled because ingest reads several per object and a regular
 * expression with groups costs several times more.
 */
export function parseStixInstant (text: string): StixInstant | null {
  const n = text.length
  if (n < 20 || text[4] !== '-' || text[7] !== '-' || text[10] !== 'T' || text[13] !== ':' || text[16] !== ':') return null
  const year = digits(text, 0, 4)
  const month = digits(text, 5, 2)
  const day = digits(text, 8, 2)
  const hour = digits(text, 11, 2)
  const minute = digits(text, 14, 2)
  const second = digits(text, 17, 2)
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1] || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59 || second < 0 || second > 60) return null
  if (month === 2 && day === 29 && !((year % 4 === 0 && year % 100 !== 0) || year % 400 === 0)) return null

  let ms = daysFromCivil(year, month, day) * DAY_MS + ((hour * 60 + minute) * 60 + second) * 1000
  let us = 0
  let i = 19
  if (text[i] === '.') {
    // Six digits in whole microseconds (integers, so no float rounding); later digits are cut.
    let micros = 0
    i++
    const start = i
    for (; i < n; i++) {
      const d = text.charCodeAt(i) - 48
      if (d < 0 || d > 9) break
      if (i - start < 6) micros = micros * 10 + d
    }
    if (i === start) return null
    for (let k = i - start; k < 6; k++) micros *= 10
    ms += Math.floor(micros / 1000)
    us = micros % 1000
  }
  if (i === n - 1 && text[i] === 'Z') return { ms, us }
  if (i !== n - 6 || text[i + 3] !== ':') return null
  const sign = text[i]
  const offsetHours = digits(text, i + 1, 2)
  const offsetMinutes = digits(text, i + 4, 2)
  if ((sign !== '+' && sign !== '-') || offsetHours < 0 || offsetHours > 23 || offsetMinutes < 0 || offsetMinutes > 59) return null
  const offset = (offsetHours * 60 + offsetMinutes) * 60000
  return { ms: sign === '+' ? ms - offset : ms + offset, us }
}

/**
 * Epoch milliseconds of an RFC 3339 timestamp, the microseconds kept as a fraction; null when
 * it is not one (see parseStixInstant).
 */
export function parseStixTimestamp (text: string): number | null {
  const t = parseStixInstant(text)
  return t == null ? null : t.ms + t.us / 1000
}

// Milliseconds from one day before 0000-01-01 to the epoch: every valid timestamp, whatever its
// offset, is then non-negative and fits 15 digits.
const KEY_OFFSET_MS = -daysFromCivil(0, 1, 1) * DAY_MS + DAY_MS

/**
 * A timestamp as a fixed-width string (18 digits) that sorts as the instant does: UTC,
 * microsecond precision, `…:00Z` before `…:00.500Z`, `+05:00` converted. Null when `text` is
 * not a timestamp.
 */
export function stixInstantKey (text: string): string | null {
  const t = parseStixInstant(text)
  if (t == null) return null
  return String(t.ms + KEY_OFFSET_MS).padStart(15, '0') + String(t.us).padStart(3, '0')
}

/**
 * Orders two version names (`modified`, else `created`, else '') by instant. The empty name
 * and anything that is no timestamp come first, among themselves by text.
 */
export function compareVersionNames (a: string, b: string): number {
  const ka = stixInstantKey(a)
  const kb = stixInstantKey(b)
  if (ka == null || kb == null) {
    if (ka != null) return 1
    if (kb != null) return -1
    return a < b ? -1 : a > b ? 1 : 0
  }
  return ka < kb ? -1 : ka > kb ? 1 : 0
}
