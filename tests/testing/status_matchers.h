// GoogleTest matchers and assertion macros for absl::Status and absl::StatusOr<T>. Debian's
// abseil 20220623 ships none, so these are the project's small versions:
//
//   EXPECT_THAT(status_or_statusor, IsOk());
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("quantity")));
//   EXPECT_THAT(s, HasErrorField("data.items[0].quantity"));  // rapport::ledger::ErrorField
//   EXPECT_THAT(s, HasErrorCode("invalid_field"));            // rapport::ledger::ErrorCode
//   ASSERT_OK_AND_ASSIGN(Event ev, ParseEventJson(json, options));
//   ASSERT_OK(status_or_statusor);
//   EXPECT_OK(status_or_statusor);
//
// Every matcher accepts both absl::Status and absl::StatusOr<T>. absl::StatusOr has no printer in
// this abseil, so prefer matching `.status()` where a failure message should stay readable.
#ifndef RAPPORT_TESTS_TESTING_STATUS_MATCHERS_H_
#define RAPPORT_TESTS_TESTING_STATUS_MATCHERS_H_

#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ledger/errors.h"

namespace rapport::testing {
namespace internal {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// Implements IsOk().
class IsOkMatcher {
 public:
  template <typename StatusType>
  bool MatchAndExplain(const StatusType& value, ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(value);
    if (!status.ok()) *listener << "whose status is " << status;
    return status.ok();
  }
  void DescribeTo(std::ostream* os) const { *os << "is OK"; }
  void DescribeNegationTo(std::ostream* os) const { *os << "is not OK"; }
};

// Implements StatusIs(code[, message_matcher]).
class StatusIsMatcher {
 public:
  StatusIsMatcher(absl::StatusCode code, ::testing::Matcher<const std::string&> message)
      : code_(code), message_(std::move(message)) {}

  template <typename StatusType>
  bool MatchAndExplain(const StatusType& value, ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(value);
    if (status.code() != code_) {
      *listener << "whose status is " << status;
      return false;
    }
    ::testing::StringMatchResultListener inner;
    if (!message_.MatchAndExplain(std::string(status.message()), &inner)) {
      *listener << "whose message \"" << status.message() << "\" does not match";
      if (!inner.str().empty()) *listener << " (" << inner.str() << ")";
      return false;
    }
    return true;
  }
  void DescribeTo(std::ostream* os) const {
    *os << "has status code " << absl::StatusCodeToString(code_) << " and a message that ";
    message_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "does not have status code " << absl::StatusCodeToString(code_)
        << " or has a message that ";
    message_.DescribeNegationTo(os);
  }

 private:
  absl::StatusCode code_;
  ::testing::Matcher<const std::string&> message_;
};

// Implements HasErrorField() and HasErrorCode(): matches one string derived from the status.
class ErrorPartMatcher {
 public:
  enum class Part { kField, kCode };
  ErrorPartMatcher(Part part, ::testing::Matcher<const std::string&> matcher)
      : part_(part), matcher_(std::move(matcher)) {}

  template <typename StatusType>
  bool MatchAndExplain(const StatusType& value, ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(value);
    std::string actual = part_ == Part::kField ? ::rapport::ledger::ErrorField(status).value_or("")
                                               : ::rapport::ledger::ErrorCode(status);
    if (matcher_.Matches(actual)) return true;
    *listener << "whose error " << Name() << " is \"" << actual << "\" (status " << status << ")";
    return false;
  }
  void DescribeTo(std::ostream* os) const {
    *os << "has an error " << Name() << " that ";
    matcher_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "has an error " << Name() << " that ";
    matcher_.DescribeNegationTo(os);
  }

 private:
  const char* Name() const { return part_ == Part::kField ? "field" : "code"; }
  Part part_;
  ::testing::Matcher<const std::string&> matcher_;
};

template <typename StatusType>
::testing::AssertionResult AssertOk(const char* expression, const StatusType& value) {
  const absl::Status& status = GetStatus(value);
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << expression << " is not OK: " << status;
}

}  // namespace internal

// Matches an OK absl::Status or absl::StatusOr<T>.
inline ::testing::PolymorphicMatcher<internal::IsOkMatcher> IsOk() {
  return ::testing::MakePolymorphicMatcher(internal::IsOkMatcher());
}

// Matches a status with canonical code `code`, and a message matched by `message_matcher` (a
// string matcher such as HasSubstr("quantity"), or a string for an exact message).
template <typename MessageMatcher>
::testing::PolymorphicMatcher<internal::StatusIsMatcher> StatusIs(
    absl::StatusCode code, MessageMatcher&& message_matcher) {
  return ::testing::MakePolymorphicMatcher(internal::StatusIsMatcher(
      code,
      ::testing::MatcherCast<const std::string&>(std::forward<MessageMatcher>(message_matcher))));
}
inline ::testing::PolymorphicMatcher<internal::StatusIsMatcher> StatusIs(absl::StatusCode code) {
  return StatusIs(code, ::testing::A<const std::string&>());
}

// Matches a status whose field path (rapport::ledger::ErrorField) is matched by `field`; a status
// that names no field has the path "", so HasErrorField("") means "names no field".
template <typename FieldMatcher>
::testing::PolymorphicMatcher<internal::ErrorPartMatcher> HasErrorField(FieldMatcher&& field) {
  return ::testing::MakePolymorphicMatcher(internal::ErrorPartMatcher(
      internal::ErrorPartMatcher::Part::kField,
      ::testing::MatcherCast<const std::string&>(std::forward<FieldMatcher>(field))));
}
inline ::testing::PolymorphicMatcher<internal::ErrorPartMatcher> HasErrorField(const char* field) {
  return HasErrorField(std::string(field));
}

// Matches a status whose contract error code (rapport::ledger::ErrorCode, e.g. "invalid_field")
// is matched by `code`.
template <typename CodeMatcher>
::testing::PolymorphicMatcher<internal::ErrorPartMatcher> HasErrorCode(CodeMatcher&& code) {
  return ::testing::MakePolymorphicMatcher(internal::ErrorPartMatcher(
      internal::ErrorPartMatcher::Part::kCode,
      ::testing::MatcherCast<const std::string&>(std::forward<CodeMatcher>(code))));
}
inline ::testing::PolymorphicMatcher<internal::ErrorPartMatcher> HasErrorCode(const char* code) {
  return HasErrorCode(std::string(code));
}

}  // namespace rapport::testing

#define RAPPORT_TESTING_CONCAT_INNER_(a, b) a##b
#define RAPPORT_TESTING_CONCAT_(a, b) RAPPORT_TESTING_CONCAT_INNER_(a, b)

// Asserts that `expr` (an absl::Status or absl::StatusOr<T>) is OK; the message shows the status.
#define ASSERT_OK(expr) ASSERT_PRED_FORMAT1(::rapport::testing::internal::AssertOk, expr)
#define EXPECT_OK(expr) EXPECT_PRED_FORMAT1(::rapport::testing::internal::AssertOk, expr)

// `ASSERT_OK_AND_ASSIGN(Event ev, ParseEventJson(...));` evaluates `rexpr` (an absl::StatusOr<T>)
// once, fails the test (returning from the enclosing void function) when it is not OK, and
// otherwise moves its value into `lhs`, which may be a declaration.
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr)                                                           \
  RAPPORT_ASSERT_OK_AND_ASSIGN_IMPL_(RAPPORT_TESTING_CONCAT_(rapport_testing_statusor_, __LINE__), \
                                     lhs, rexpr)

#define RAPPORT_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, rexpr)                                 \
  auto statusor = (rexpr);                                                                       \
  GTEST_ASSERT_(::rapport::testing::internal::AssertOk(#rexpr, statusor), GTEST_FATAL_FAILURE_); \
  lhs = std::move(statusor).value()

#endif  // RAPPORT_TESTS_TESTING_STATUS_MATCHERS_H_
