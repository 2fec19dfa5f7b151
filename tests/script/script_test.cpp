// script: caption files (SRT, WebVTT), the command line protocol, the scheduler, and the FIFO input.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "asfcast/script/script.hpp"

namespace asfcast::script {
namespace {

TEST(Captions, Srt) {
    const CaptionFile f = parse_captions(
        "1\r\n00:00:01,000 --> 00:00:02,500\r\nHello <i>world</i>\r\nsecond line\r\n\r\n"
        "2\n00:01:02,003 --> 00:01:03,000 X1:10 X2:20\nA &amp; B\n\n\n"
        "3\n01:00:00,000 --> 01:00:01,000\n\n");
    EXPECT_EQ(f.format, "SRT");
    EXPECT_TRUE(f.errors.empty()) << f.errors[0].line << ": " << f.errors[0].message;
    ASSERT_EQ(f.cues.size(), 3u);
    EXPECT_EQ(f.cues[0].start, 1'000'000);
    EXPECT_EQ(f.cues[0].end, 2'500'000);
    EXPECT_EQ(f.cues[0].text, "Hello world\nsecond line");
    EXPECT_EQ(f.cues[0].line, 2);
    EXPECT_EQ(f.cues[1].start, 62'003'000);
    EXPECT_EQ(f.cues[1].text, "A & B");
    EXPECT_EQ(f.cues[2].start, 3600'000'000);
    EXPECT_EQ(f.cues[2].text, "");
}

TEST(Captions, WebVtt) {
    const CaptionFile f = parse_captions(
        "\xEF\xBB\xBFWEBVTT - a title\nKind: captions\n\n"
        "NOTE this is\na comment\n\n"
        "STYLE\n::cue { color: red }\n\n"
        "intro\n00:01.000 --> 00:02.000 align:start position:10%\n<v Roger>Hi <b>there</b>\n\n"
        "00:00:03.500 --> 00:00:04.000\nTwo\n");
    EXPECT_EQ(f.format, "WebVTT");
    ASSERT_TRUE(f.errors.empty()) << f.errors[0].line << ": " << f.errors[0].message;
    ASSERT_EQ(f.cues.size(), 2u);
    EXPECT_EQ(f.cues[0].start, 1'000'000);
    EXPECT_EQ(f.cues[0].end, 2'000'000);
    EXPECT_EQ(f.cues[0].text, "Hi there");
    EXPECT_EQ(f.cues[0].line, 11);
    EXPECT_EQ(f.cues[1].start, 3'500'000);
}

TEST(Captions, ErrorsNameTheirLineAndTheGoodCuesStay) {
    const CaptionFile f = parse_captions(
        "1\n00:00:01,000 --> 00:00:02,000\nfine\n\n"
        "2\n00:00:0x,000 --> 00:00:03,000\nbad time\n\n"     // line 6
        "3\n00:00:05,000 --> 00:00:04,000\nbackwards\n\n"    // line 10
        "four\n00:00:06,000 --> 00:00:07,000\nnot a number\n\n"  // line 13 (kept, reported)
        "5\n00:00:08,000 --> 00:00:09,000\n\xFF\xFE\n\n"     // text on line 19
        "00:00:10,000\n\n"                                   // line 21
        "7\n00:00:11,000 --> 00:00:12,000\nlast\n");
    ASSERT_EQ(f.errors.size(), 5u);
    EXPECT_EQ(f.errors[0].line, 6);
    EXPECT_NE(f.errors[0].message.find("expected a timing line"), std::string::npos);
    EXPECT_EQ(f.errors[1].line, 10);
    EXPECT_EQ(f.errors[1].message, "the cue ends before it starts");
    EXPECT_EQ(f.errors[2].line, 13);
    EXPECT_EQ(f.errors[3].line, 19);  // the text line
    EXPECT_EQ(f.errors[3].message, "the cue text is not UTF-8");
    EXPECT_EQ(f.errors[4].line, 21);
    ASSERT_EQ(f.cues.size(), 3u);
    EXPECT_EQ(f.cues[0].text, "fine");
    EXPECT_EQ(f.cues[1].text, "not a number");
    EXPECT_EQ(f.cues[2].text, "last");
    EXPECT_TRUE(parse_captions("").cues.empty());
    EXPECT_EQ(parse_captions(std::string(5000, 'x')).errors.size(), 1u);
}

TEST(CommandLine, TypesTimesAndErrors) {
    auto r = parse_command_line("CAPTION Hello there  ");
    ASSERT_TRUE(r.command);
    EXPECT_EQ(r.command->type, "CAPTION");
    EXPECT_EQ(r.command->parameter, "Hello there");
    EXPECT_FALSE(r.command->at);
    r = parse_command_line("@00:01:02.5 url http://example.com/&&frame\r");
    ASSERT_TRUE(r.command);
    EXPECT_EQ(r.command->type, "URL");
    EXPECT_EQ(*r.command->at, 62'500'000);
    EXPECT_EQ(r.command->parameter, "http://example.com/&&frame");
    r = parse_command_line("@12.25 MyEvent_2 x");
    ASSERT_TRUE(r.command);
    EXPECT_EQ(r.command->type, "MyEvent_2");
    EXPECT_EQ(*r.command->at, 12'250'000);
    r = parse_command_line("marker Keynote");
    ASSERT_TRUE(r.command && r.command->is_marker());
    EXPECT_EQ(r.command->parameter, "Keynote");
    r = parse_command_line("CAPTION");
    ASSERT_TRUE(r.command);
    EXPECT_EQ(r.command->parameter, "");  // an empty caption clears it
    EXPECT_FALSE(parse_command_line("   ").command);
    EXPECT_TRUE(parse_command_line("# comment").error.empty());
    EXPECT_EQ(parse_command_line("MARKER").error, "MARKER needs a name");
    EXPECT_NE(parse_command_line("@xx CAPTION a").error.find("is not a media time"), std::string::npos);
    EXPECT_NE(parse_command_line("BAD-TYPE a").error.find("expected a command type"), std::string::npos);
    EXPECT_EQ(parse_command_line("CAPTION a\x01").error, "has control characters");
    EXPECT_EQ(parse_command_line("CAPTION \xC3").error, "not UTF-8");
    EXPECT_FALSE(parse_command_line(std::string(5000, 'A')).error.empty());
    EXPECT_EQ(parse_media_time("90"), 90'000'000);
    EXPECT_EQ(parse_media_time("1:00:00"), 3600'000'000);
    EXPECT_FALSE(parse_media_time("1:60:00"));
    EXPECT_FALSE(parse_media_time("-1"));
}

TEST(Scheduler, DueInTimeOrderAndCaptionsClear) {
    ScriptScheduler s;
    s.add({3'000'000, "URL", "u"});
    s.add({1'000'000, "TEXT", "a"});
    s.add({1'000'000, "TEXT", "b"});
    CaptionFile f;
    f.cues = {{500'000, 1'000'000, "one", 1}, {1'000'000, 2'000'000, "two", 2}};
    EXPECT_EQ(s.add_captions(f, 1'000'000), 3u);  // one, two, clear at 3 s (two starts when one ends)
    EXPECT_TRUE(s.due(999'999).empty());
    auto d = s.due(1'500'000);
    ASSERT_EQ(d.size(), 3u);
    EXPECT_EQ(d[0].parameter, "a");
    EXPECT_EQ(d[1].parameter, "b");
    EXPECT_EQ(d[2].parameter, "one");
    d = s.due(3'000'000);
    ASSERT_EQ(d.size(), 3u);
    EXPECT_EQ(d[0].parameter, "two");
    EXPECT_EQ(d[1].type, "URL");
    EXPECT_EQ(d[2].type, "CAPTION");
    EXPECT_EQ(d[2].parameter, "");
    EXPECT_EQ(s.pending(), 0u);
}

TEST(CommandInput, ReadsAFifoAcrossWritersAndReportsBadLines) {
    const std::string fifo =
        (std::filesystem::temp_directory_path() / ("asfcast-cmds-test-" + std::to_string(::getpid()))).string();
    std::mutex m;
    std::condition_variable cv;
    std::vector<CommandLine> got;
    std::vector<std::string> errors;
    {
        EXPECT_THROW(send_command_line(fifo, "CAPTION x"), std::runtime_error);  // nothing there yet
        CommandInput in(
            fifo,
            [&](CommandLine c) {
                std::lock_guard lk(m);
                got.push_back(std::move(c));
                cv.notify_all();
            },
            [&](const std::string& e) {
                std::lock_guard lk(m);
                errors.push_back(e);
                cv.notify_all();
            });
        struct stat st {};
        ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
        EXPECT_TRUE(S_ISFIFO(st.st_mode));
        EXPECT_EQ(st.st_mode & 0777, 0600u);
        send_command_line(fifo, "CAPTION one");
        send_command_line(fifo, "MARKER Q&A");
        EXPECT_THROW(send_command_line(fifo, "MARKER"), std::runtime_error);  // refused before it is sent
        {  // a writer of its own sending a bad line, then a good one
            FILE* w = std::fopen(fifo.c_str(), "w");
            ASSERT_NE(w, nullptr);
            std::fputs("??? nonsense\nURL http://x/\n", w);
            std::fclose(w);
        }
        std::unique_lock lk(m);
        ASSERT_TRUE(cv.wait_for(lk, std::chrono::seconds(5), [&] { return got.size() == 3 && errors.size() == 1; }));
    }
    EXPECT_EQ(got[0].parameter, "one");
    EXPECT_TRUE(got[1].is_marker());
    EXPECT_EQ(got[2].type, "URL");
    EXPECT_NE(errors[0].find("commands line 3: expected a command type"), std::string::npos) << errors[0];
    EXPECT_FALSE(std::filesystem::exists(fifo));  // the FIFO it made is removed
}

}  // namespace
}  // namespace asfcast::script
