#include "obs/protobuf.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <protozero/pbf_reader.hpp>

#include "exposition/cases.hpp"

// Golden bytes: each case's expected messages are written by hand as text
// protos in tests/protobuf/golden/<case>.txtpb (families separated by `---`),
// and the hex below is what `protoc --encode=io.prometheus.client.MetricFamily
// metrics.proto` makes of them, each message preceded by its varint length.
// The encoder is protoc's, not ours; check_protobuf.py decodes our output
// against the same files.

using obs::protobuf::render;

namespace {

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// The messages of a delimited body, each checked to lie within it.
std::vector<std::string_view> split_delimited(std::string_view body) {
  std::vector<std::string_view> messages;
  const char* p = body.data();
  const char* end = p + body.size();
  while (p != end) {
    const std::uint64_t size = protozero::decode_varint(&p, end);
    REQUIRE(size <= static_cast<std::uint64_t>(end - p));
    messages.emplace_back(p, size);
    p += size;
  }
  return messages;
}

protozero::pbf_reader reader(std::string_view message) { return {message.data(), message.size()}; }

// The string field `tag` of a message (the first one).
std::string string_field(std::string_view message, protozero::pbf_tag_type tag) {
  protozero::pbf_reader r = reader(message);
  while (r.next(tag)) return r.get_string();
  return {};
}

}  // namespace

TEST_CASE("protobuf: content type is the delimited MetricFamily stream") {
  CHECK(obs::protobuf::content_type ==
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited");
}

TEST_CASE("protobuf: an empty snapshot renders nothing") { CHECK(render(obs::snapshot()).empty()); }

TEST_CASE("protobuf: render_to appends after what the string holds") {
  std::string out = "prefix";
  obs::protobuf::render_to(obs_test::no_series(), out);
  CHECK(out == "prefix" + render(obs_test::no_series()));
}

TEST_CASE("protobuf: exemplars matches tests/protobuf/golden/exemplars.txtpb as protoc encodes it") {
  CHECK(hex(render(obs_test::exemplars())) ==
      "b4010a136f726465725f76616c75655f646f6c6c617273120d4f726465722076616c7565732e1804228b013a88010804"
      "110000000000e470401a26080111000000000000f03f1a190a0e0a0874726163655f69641202733111000000000000d0"
      "3f1a0b08011100000000000024401a0b08031100000000000059401a39080411000000000000f07f1a2c0a0e0a087472"
      "6163655f6964120262320a090a0475736572120175110000000000005e401a060881e2cfaa0682010a0c6f7264657273"
      "5f746f74616c120d4f72646572732074616b656e2e180022460a0c0a0473686f701204656173741a3609000000000000"
      "0840122b0a120a0874726163655f6964120661626322315c11000000000000f03f1a0c0880e2cfaa061080cab5ee0122"
      "190a0c0a0473686f701204776573741a09090000000000000000");
}

TEST_CASE("protobuf: native histogram matches tests/protobuf/golden/native_histogram.txtpb as protoc encodes it") {
  CHECK(hex(render(obs_test::native_histogram())) ==
      "ff010a147270635f6475726174696f6e5f7365636f6e6473120e525043206475726174696f6e732e180422a1010a0f0a"
      "07736572766963651204617574683a8d01080d1100000000000017401a0b08061100000000000000001a0b0806110000"
      "00000000f03f1a35080d1100000000000000401a280a100a0874726163655f696412046630306411000000000000f83f"
      "1a0b0882e2cfaa061080e59a77280631fca9f1d24d62503f38024a04080010014a040804100150065003620408021002"
      "620408041002680468016801680822310a0f0a0773657276696365120469646c653a1e08001100000000000000002800"
      "3100000000000000003800620408001000");
}

TEST_CASE("protobuf: info and units matches tests/protobuf/golden/info_and_units.txtpb as protoc encodes it") {
  CHECK(hex(render(obs_test::info_and_units())) ==
      "4f0a0a6275696c645f696e666f120c4275696c642066616374732e180122310a120a087265766973696f6e1206616263"
      "3132330a100a0776657273696f6e1205312e322e33120909000000000000f03f290a0a686561705f6279746573120c48"
      "65617020696e207573652e1801220b120909000000000000b0402a0a06757074696d65121154696d652073696e636520"
      "73746172742e1801220b1209090000000000002940");
}

TEST_CASE("protobuf: summary matches tests/protobuf/golden/summary.txtpb as protoc encodes it") {
  CHECK(hex(render(obs_test::summary())) ==
      "a5010a137270635f6c6174656e63795f7365636f6e6473120c525043206c6174656e63792e18022221221f0803110000"
      "0000000008401a1209000000000000e03f11000000000000f03f225b0a0f0a0773657276696365120461757468224808"
      "e8071100000000008031401a1209000000000000e03f11fa7e6abc7493883f1a1209cdccccccccccec3f119a99999999"
      "99a93f1a1209ae47e17a14aeef3f11000000000000d03f");
}

TEST_CASE("protobuf: counters created matches tests/protobuf/golden/counters_created.txtpb as protoc encodes it") {
  CHECK(hex(render(obs_test::counters_created())) ==
      "360a0c6576656e74735f746f74616c120c4576656e7473207365656e2e180022160a090a046b696e641201781a090900"
      "00000000001040510a1570726f6365737365645f62797465735f746f74616c121042797465732070726f636573736564"
      "2e1800220b1a0909000000000000904022170a0a0a0573746167651201621a09090000000000000440");
}

TEST_CASE("protobuf: no series matches tests/protobuf/golden/no_series.txtpb as protoc encodes it") {
  CHECK(hex(render(obs_test::no_series())) ==
      "260a0a6a6f62735f746f74616c12094a6f62732072756e2e1800220b1a09090000000000001c401e0a0b71756575655f"
      "6465707468120d4a6f62732077616974696e672e1801");
}

TEST_CASE("protobuf: one delimited MetricFamily per family, in snapshot order") {
  const std::string body = render(obs_test::big_varied());
  const std::vector<std::string_view> messages = split_delimited(body);
  const obs::snapshot s = obs_test::big_varied();
  REQUIRE(messages.size() == s.families().size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const obs::family_snapshot& f = s.families()[i];
    std::string want(f.name);
    if (f.type == obs::metric_type::info && !want.ends_with("_info")) want += "_info";
    if (f.type == obs::metric_type::counter && !want.ends_with("_total")) want += "_total";
    CHECK(string_field(messages[i], 1) == want);
    CHECK(string_field(messages[i], 2) == f.help);
  }
}

TEST_CASE("protobuf: names are the samples' OpenMetrics names, info is a gauge") {
  obs::snapshot_builder b;
  b.add_family("build", obs::metric_type::info, "Build.");
  b.add_series({{"version", "1"}}, obs::number::integer(1));
  b.add_family("events", obs::metric_type::counter);
  b.add_series({}, obs::number::integer(2));
  const obs::snapshot s = std::move(b).build();
  const std::string body = render(s);
  const std::vector<std::string_view> messages = split_delimited(body);
  REQUIRE(messages.size() == 2);
  CHECK(string_field(messages[0], 1) == "build_info");
  protozero::pbf_reader family = reader(messages[0]);
  REQUIRE(family.next(3));
  CHECK(family.get_enum() == 1);  // GAUGE
  CHECK(string_field(messages[1], 1) == "events_total");
}

TEST_CASE("protobuf: of several exemplars in one bucket the last is kept") {
  obs::snapshot_builder b;
  b.add_family("h", obs::metric_type::histogram);
  const obs::label_view first[] = {{"trace_id", "1"}};
  const obs::label_view second[] = {{"trace_id", "2"}};
  const obs::label_view third[] = {{"trace_id", "3"}};
  b.add_histogram_series({}, {{1, 2}, {5, 3}}, 3.5, 3);
  b.add_exemplars({{first, 0.5, std::nullopt}, {second, 0.75, std::nullopt}, {third, 2, std::nullopt}});
  const std::string body = render(std::move(b).build());
  // Bucket le=1 carries trace 2, bucket le=5 trace 3; +Inf stays implicit.
  const std::vector<std::string_view> messages = split_delimited(body);
  REQUIRE(messages.size() == 1);
  protozero::pbf_reader family = reader(messages[0]);
  REQUIRE(family.next(4));
  protozero::pbf_reader metric = family.get_message();
  REQUIRE(metric.next(7));
  protozero::pbf_reader histogram = metric.get_message();
  std::vector<std::pair<double, std::string>> buckets;
  while (histogram.next(3)) {
    protozero::pbf_reader bucket = histogram.get_message();
    double bound = 0;
    std::string trace;
    while (bucket.next()) {
      if (bucket.tag() == 2) bound = bucket.get_double();
      else if (bucket.tag() == 3) {
        protozero::pbf_reader ex = bucket.get_message();
        REQUIRE(ex.next(1));
        const protozero::data_view label = ex.get_view();
        trace = string_field({label.data(), label.size()}, 2);
      } else bucket.skip();
    }
    buckets.emplace_back(bound, trace);
  }
  CHECK(buckets == std::vector<std::pair<double, std::string>>{{1, "2"}, {5, "3"}});
}

TEST_CASE("protobuf: a comma-decimal locale changes nothing") {
  const std::string before = render(obs_test::big_varied());
  obs_test::scoped_comma_locale comma;
  CHECK(render(obs_test::big_varied()) == before);
}
