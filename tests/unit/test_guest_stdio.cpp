// The stdio framing between the VMM and the guest init: exact encodings, every byte value, and
// decoders fed the same bytes split at every position.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/unit_test.h"
#include "vmm/guest_protocol.h"
#include "vmm/guest_stdio.h"

using tandem::guest::encodeEndOfInput;
using tandem::guest::encodeInput;
using tandem::guest::encodeInputCredits;
using tandem::guest::InputAcknowledger;
using tandem::guest::InputDecoder;
using tandem::guest::InputWindow;
using tandem::guest::kInputCreditBytes;
using tandem::guest::kInputWindowBytes;
using tandem::guest::OutputChunk;
using tandem::guest::OutputDecoder;
using tandem::guest::OutputEncoder;
using tandem::guest::OutputStream;

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytesOf(std::string_view text) {
  return Bytes(text.begin(), text.end());
}

// What a decoder delivered, one (stream, byte) per byte, so that chunking does not matter.
using Tagged = std::vector<std::pair<OutputStream, std::uint8_t>>;

Tagged flatten(const std::vector<OutputChunk>& chunks) {
  Tagged out;
  for (const auto& chunk : chunks) {
    assert_false(chunk.bytes.empty());
    for (std::uint8_t byte : chunk.bytes) out.emplace_back(chunk.stream, byte);
  }
  return out;
}

void assertBytes(const Bytes& actual, const Bytes& expected) {
  assert_int_equal(actual.size(), expected.size());
  if (!expected.empty()) {
    assert_memory_equal(actual.data(), expected.data(), expected.size());
  }
}

void encoder_marks_only_stream_changes(void**) {
  OutputEncoder encoder;
  Bytes framed;
  encoder.encode(OutputStream::kStdout, bytesOf("out"), framed);
  encoder.encode(OutputStream::kStderr, bytesOf("err"), framed);
  encoder.encode(OutputStream::kStderr, bytesOf("!"), framed);
  encoder.encode(OutputStream::kStdout, {}, framed);  // nothing to say: no marker either
  encoder.encode(OutputStream::kStdout, bytesOf("o"), framed);
  assertBytes(framed, {'o', 'u', 't', 0xff, 0x02, 'e', 'r', 'r', '!', 0xff, 0x01, 'o'});
}

void encoder_escapes_the_escape_byte(void**) {
  OutputEncoder encoder;
  Bytes framed;
  encoder.encode(OutputStream::kStdout, Bytes{0xff, 0x00, 0xff, 0xff, 0x01}, framed);
  assertBytes(framed, {0xff, 0xff, 0x00, 0xff, 0xff, 0xff, 0xff, 0x01});
  Bytes input;
  encodeInput(Bytes{0xfe, 0xff, 0x00}, input);
  encodeEndOfInput(input);
  assertBytes(input, {0xfe, 0xff, 0xff, 0x00, 0xff, 0x00});
}

void decoder_groups_runs_of_one_stream(void**) {
  OutputDecoder decoder;
  std::vector<OutputChunk> chunks;
  Bytes framed = {'a', 0xff, 0x01, 'b', 0xff, 0x02, 'c', 0xff, 0xff, 0xff, 0x01, 'd'};
  assert_true(decoder.decode(framed, chunks).ok());
  assert_int_equal(chunks.size(), 3);
  assert_int_equal(chunks[0].stream, OutputStream::kStdout);
  assertBytes(chunks[0].bytes, {'a', 'b'});
  assert_int_equal(chunks[1].stream, OutputStream::kStderr);
  assertBytes(chunks[1].bytes, {'c', 0xff});
  assertBytes(chunks[2].bytes, {'d'});
}

// A mix of everything the guest sends, and what it means.
std::pair<Bytes, Tagged> sampleOutput() {
  OutputEncoder encoder;
  Bytes framed;
  Tagged expected;
  auto add = [&](OutputStream stream, const Bytes& bytes) {
    encoder.encode(stream, bytes, framed);
    for (std::uint8_t byte : bytes) expected.emplace_back(stream, byte);
  };
  add(OutputStream::kStdout, {'h', 0xff, 'i'});
  add(OutputStream::kStderr, {0xff});
  add(OutputStream::kStderr, {0xff, 0x01, 0x02});
  add(OutputStream::kStdout, {0x02, 0xff, 0xff});
  add(OutputStream::kStderr, {'e'});
  return {framed, expected};
}

void output_decoder_takes_any_split(void**) {
  auto [framed, expected] = sampleOutput();
  for (std::size_t first = 0; first <= framed.size(); ++first) {
    for (std::size_t second = first; second <= framed.size(); ++second) {
      OutputDecoder decoder;
      std::vector<OutputChunk> chunks;
      std::span<const std::uint8_t> all(framed);
      assert_true(decoder.decode(all.subspan(0, first), chunks).ok());
      assert_true(decoder.decode(all.subspan(first, second - first), chunks).ok());
      assert_true(decoder.decode(all.subspan(second), chunks).ok());
      assert_true(flatten(chunks) == expected);
    }
  }
}

void output_round_trips_every_byte_value(void**) {
  Bytes all;
  for (int value = 0; value < 256; ++value) all.push_back(static_cast<std::uint8_t>(value));
  for (auto stream : {OutputStream::kStdout, OutputStream::kStderr}) {
    OutputEncoder encoder;
    Bytes framed;
    encoder.encode(stream, all, framed);
    // One marker at most, one extra byte for the escaped 0xff.
    assert_int_equal(framed.size(), 256 + 1 + (stream == OutputStream::kStderr ? 2 : 0));
    OutputDecoder decoder;
    std::vector<OutputChunk> chunks;
    for (std::uint8_t byte : framed) {
      assert_true(decoder.decode({&byte, 1}, chunks).ok());
    }
    Tagged expected;
    for (std::uint8_t byte : all) expected.emplace_back(stream, byte);
    assert_true(flatten(chunks) == expected);
  }
}

void output_decoder_reports_unknown_codes_and_goes_on(void**) {
  OutputDecoder decoder;
  std::vector<OutputChunk> chunks;
  auto status = decoder.decode(Bytes{'a', 0xff, 0x00, 'b', 0xff, 0x7f, 'c'}, chunks);
  assert_false(status.ok());
  assert_non_null(std::strstr(status.error().message().c_str(), "0x00"));
  Tagged expected = {
      {OutputStream::kStdout, 'a'}, {OutputStream::kStdout, 'b'}, {OutputStream::kStdout, 'c'}};
  assert_true(flatten(chunks) == expected);
  // The state is clean afterwards.
  chunks.clear();
  assert_true(decoder.decode(Bytes{0xff, 0xff}, chunks).ok());
  assertBytes(chunks.at(0).bytes, {0xff});
}

void input_decoder_takes_any_split(void**) {
  Bytes data;
  for (int value = 0; value < 256; ++value) data.push_back(static_cast<std::uint8_t>(255 - value));
  Bytes framed;
  encodeInput(data, framed);
  encodeEndOfInput(framed);
  framed.push_back('x');  // after the end: ignored
  for (std::size_t split = 0; split <= framed.size(); ++split) {
    InputDecoder decoder;
    Bytes decoded;
    std::span<const std::uint8_t> all(framed);
    assert_true(decoder.decode(all.subspan(0, split), decoded).ok());
    // Split right between the escape byte and end-of-input's code: not ended yet.
    assert_int_equal(decoder.ended(), split >= framed.size() - 1);
    assert_true(decoder.decode(all.subspan(split), decoded).ok());
    assert_true(decoder.ended());
    assertBytes(decoded, data);
  }
}

void input_decoder_ignores_bytes_after_the_end(void**) {
  InputDecoder decoder;
  Bytes decoded;
  assert_true(decoder.decode(Bytes{'a', 0xff, 0x00, 'b', 0xff, 0x42}, decoded).ok());
  assert_true(decoder.ended());
  assert_true(decoder.decode(Bytes{'c'}, decoded).ok());
  assertBytes(decoded, {'a'});
}

void input_decoder_reports_unknown_codes(void**) {
  InputDecoder decoder;
  Bytes decoded;
  auto status = decoder.decode(Bytes{'a', 0xff, tandem::guest::kSelectStderr, 'b'}, decoded);
  assert_false(status.ok());
  assert_non_null(std::strstr(status.error().message().c_str(), "0x02"));
  assertBytes(decoded, {'a', 'b'});
  assert_false(decoder.ended());
}

void input_credits_pass_between_output_bytes(void**) {
  OutputEncoder encoder;
  Bytes framed;
  encoder.encode(OutputStream::kStderr, bytesOf("a"), framed);
  encodeInputCredits(2, framed);
  encoder.encode(OutputStream::kStderr, bytesOf("b"), framed);
  encodeInputCredits(1, framed);
  assertBytes(framed, {0xff, 0x02, 'a', 0xff, 0x03, 0xff, 0x03, 'b', 0xff, 0x03});
  // Split after every byte, escape pairs included.
  OutputDecoder decoder;
  std::vector<OutputChunk> chunks;
  std::size_t credits = 0;
  for (std::uint8_t byte : framed) {
    assert_true(decoder.decode({&byte, 1}, chunks).ok());
    credits += decoder.takeInputCredits();
  }
  assert_int_equal(credits, 3);
  assert_int_equal(decoder.takeInputCredits(), 0);
  Tagged expected = {{OutputStream::kStderr, 'a'}, {OutputStream::kStderr, 'b'}};
  assert_true(flatten(chunks) == expected);
}

// The VMM's window and the guest's acknowledgements, run against each other with the guest
// reading in uneven pieces: the guest never holds more than the window, and all the input gets
// through, however it ends relative to a credit's size.
void input_window_bounds_what_the_guest_holds_and_never_stalls(void**) {
  for (std::size_t total :
       {std::size_t{0}, std::size_t{1}, kInputCreditBytes - 1, kInputWindowBytes,
        kInputWindowBytes + 1, std::size_t{300 * 1024 + 17}}) {
    InputWindow window;
    InputAcknowledger acknowledger;
    std::size_t sent = 0;
    std::size_t taken = 0;
    std::size_t piece = 1;
    int rounds = 0;
    while (taken < total) {
      assert_true(++rounds < 100000);
      std::size_t send = std::min(window.room(), total - sent);
      window.sent(send);
      sent += send;
      assert_true(sent - taken <= kInputWindowBytes);
      // The guest takes an uneven piece of what it holds: 1, 7, 49, ... bytes, wrapping.
      std::size_t take = std::min(piece, sent - taken);
      assert_true(take > 0);
      taken += take;
      window.credit(acknowledger.took(take));
      piece = piece * 7 % 5003 + 1;
    }
    assert_int_equal(taken, total);
  }
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(encoder_marks_only_stream_changes),
      cmocka_unit_test(encoder_escapes_the_escape_byte),
      cmocka_unit_test(decoder_groups_runs_of_one_stream),
      cmocka_unit_test(output_decoder_takes_any_split),
      cmocka_unit_test(output_round_trips_every_byte_value),
      cmocka_unit_test(output_decoder_reports_unknown_codes_and_goes_on),
      cmocka_unit_test(input_decoder_takes_any_split),
      cmocka_unit_test(input_decoder_ignores_bytes_after_the_end),
      cmocka_unit_test(input_decoder_reports_unknown_codes),
      cmocka_unit_test(input_credits_pass_between_output_bytes),
      cmocka_unit_test(input_window_bounds_what_the_guest_holds_and_never_stalls),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
